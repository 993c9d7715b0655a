// The whole nic model: transforms, hyperprior, two-step spatial prior for the means, integer
// scale network, and the variable-rate quantization step (DESIGN.md §3). One definition, used by
// the codec (inference) and by nic-train.
#pragma once

#include <torch/torch.h>

#include "model/config.h"
#include "model/entropy_model.h"
#include "model/integer_scale_net.h"
#include "model/transforms.h"

namespace nic {

struct TrainOutput {
  torch::Tensor x_hat;   // [B, 3, H, W]
  torch::Tensor y_bits;  // [B] estimated bits of y
  torch::Tensor z_bits;  // [B] estimated bits of z
};

struct ImageCodecModelImpl : torch::nn::Module {
  explicit ImageCodecModelImpl(const ModelConfig& config);

  // x in [0,1], sides multiples of 64; anchor: int64 [B], the rate anchor of each item.
  TrainOutput forward_train(const torch::Tensor& x, const torch::Tensor& anchor);

  ModelConfig config;
  AnalysisTransform g_a{nullptr};
  SynthesisTransform g_s{nullptr};
  HyperAnalysis h_a{nullptr};
  HyperMeanSynthesis h_s{nullptr};
  MeanPredictor means{nullptr};
  ScaleNetTrainable scale_net{nullptr};
  FactorizedPrior z_prior{nullptr};
  // log2 of the quantization step: per channel, plus one global offset per rate anchor.
  torch::Tensor q_basic_log2, q_anchor_log2;
};
TORCH_MODULE(ImageCodecModel);

// 1 where a latent is coded in step 1: the first half of the channels on the even checkerboard,
// the second half on the odd one (EVC's dual spatial prior); step 2 codes the rest.
// Returns float [1, C, h, w].
torch::Tensor step1_mask(int64_t channels, int64_t h, int64_t w, const torch::TensorOptions& opts);

// Rounding with an identity gradient.
torch::Tensor round_straight_through(const torch::Tensor& x);

}  // namespace nic
