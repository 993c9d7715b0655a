// The float networks: analysis/synthesis transforms, hyper analysis, and the mean predictors
// of the two coding steps. None of them influences parsing (DESIGN.md §4): they only produce y,
// z and the means mu, which move reconstruction values, never probability tables.
#pragma once

#include <torch/torch.h>

#include "model/config.h"
#include "model/layers.h"

namespace nic {

// RGB in [0,1] at full resolution -> y at 1/16.
struct AnalysisTransformImpl : torch::nn::Module {
  explicit AnalysisTransformImpl(const ModelConfig& config);
  torch::Tensor forward(torch::Tensor x);
  torch::nn::Sequential body{nullptr};
};
TORCH_MODULE(AnalysisTransform);

// y_hat at 1/16 -> RGB at full resolution.
struct SynthesisTransformImpl : torch::nn::Module {
  explicit SynthesisTransformImpl(const ModelConfig& config);
  torch::Tensor forward(torch::Tensor y_hat);
  torch::nn::Sequential body{nullptr};
};
TORCH_MODULE(SynthesisTransform);

// y at 1/16 -> z at 1/64.
struct HyperAnalysisImpl : torch::nn::Module {
  explicit HyperAnalysisImpl(const ModelConfig& config);
  torch::Tensor forward(torch::Tensor y);
  torch::nn::Sequential body{nullptr};
};
TORCH_MODULE(HyperAnalysis);

// z_hat at 1/64 -> features at 1/16 (the hyperprior's contribution to the means).
struct HyperMeanSynthesisImpl : torch::nn::Module {
  explicit HyperMeanSynthesisImpl(const ModelConfig& config);
  torch::Tensor forward(torch::Tensor z_hat);
  torch::nn::Sequential body{nullptr};
};
TORCH_MODULE(HyperMeanSynthesis);

// Means of the two coding steps: step 1 from the hyper features alone, step 2 from the hyper
// features and the latents decoded in step 1 (the spatial prior).
struct MeanPredictorImpl : torch::nn::Module {
  explicit MeanPredictorImpl(const ModelConfig& config);
  torch::Tensor step1(const torch::Tensor& features);
  torch::Tensor step2(const torch::Tensor& features, const torch::Tensor& y_hat_step1);
  torch::nn::Conv2d step1_out{nullptr};
  torch::nn::Sequential step2_body{nullptr};
};
TORCH_MODULE(MeanPredictor);

}  // namespace nic
