// The whole nic model: transforms, hyperprior, the coding steps of the latents (means and
// integer-exact scale networks, model/latent_coding.h), and the variable-rate quantization step
// (docs/design.md). One definition, used by the codec (inference) and by nic-train.
#pragma once

#include <torch/torch.h>

#include "model/config.h"
#include "model/entropy_model.h"
#include "model/integer_scale_net.h"
#include "model/latent_coding.h"
#include "model/transforms.h"

namespace nic {

struct TrainOutput {
  torch::Tensor x_hat;   // [B, 3, H, W]
  torch::Tensor y_bits;  // [B] estimated bits of y
  torch::Tensor z_bits;  // [B] estimated bits of z
};

// Which items of a larger batch a forward pass gets: in data-parallel training each process has a
// share, and the training noise is drawn for the whole batch, so that every item gets the noise it
// would get in one process with the whole batch. batch 0: x is the whole batch.
struct BatchShare {
  int64_t batch = 0;
  int64_t offset = 0;
};

struct ImageCodecModelImpl : torch::nn::Module {
  explicit ImageCodecModelImpl(const ModelConfig& config);

  // x in [0,1], sides multiples of 64; anchor: int64 [B], the rate anchor of each item.
  TrainOutput forward_train(const torch::Tensor& x, const torch::Tensor& anchor,
                            const BatchShare& share = {});

  // Inference only: runs the float networks (transforms, hyperprior synthesis, means) in
  // float16 or bfloat16 (or back in float32). The integer-exact scale networks are untouched, so
  // parsing is not (docs/design.md).
  void set_float_dtype(torch::Dtype dtype);
  // Training: the float networks' convolutions in bfloat16 under autocast, their weights, the
  // integer scale networks and the rate terms in float32 (nic-train --precision).
  void set_training_bfloat16(bool enabled);

  ModelConfig config;
  AnalysisTransform g_a{nullptr};
  SynthesisTransform g_s{nullptr};
  HyperAnalysis h_a{nullptr};
  HyperMeanSynthesis hyper_mean_synthesis{nullptr};
  MeanPredictor means{nullptr};
  ScaleNetTrainable scale_net{nullptr};
  std::vector<ScaleNetTrainable> context_scales;  // steps 2.. of nic-evc-2
  FactorizedPrior z_prior{nullptr};
  // log2 of the quantization step: per channel, plus one global offset per rate anchor.
  torch::Tensor q_basic_log2, q_anchor_log2;
};
TORCH_MODULE(ImageCodecModel);

}  // namespace nic
