// The float networks: analysis/synthesis transforms, hyper analysis, and the mean predictors
// of the coding steps. None of them influences parsing (docs/design.md): they only produce y,
// z and the means mu, which move reconstruction values, never probability tables.
#pragma once

#include <torch/torch.h>

#include <functional>

#include "model/config.h"
#include "model/layers.h"

namespace nic {

// While it lives, and if enabled, the calling thread's convolutions on `device` run in bfloat16
// under LibTorch's autocast, which casts float32 weights on the fly (thread-local state, restored
// on exit). The outermost scope drops autocast's cached copies of the weights, so that the next
// training step, after the optimizer moved them, casts them afresh.
class BFloat16Autocast {
 public:
  BFloat16Autocast(bool enabled, c10::DeviceType device);
  ~BFloat16Autocast();
  BFloat16Autocast(const BFloat16Autocast&) = delete;
  BFloat16Autocast& operator=(const BFloat16Autocast&) = delete;

 private:
  bool enabled_;
  c10::DeviceType device_;
  bool was_enabled_ = false;
  at::ScalarType was_dtype_ = at::kFloat;
};

// The arithmetic a float network runs in: float32 unless ImageCodecModelImpl::set_float_dtype
// chose float16 or bfloat16 for inference (docs/design.md, precision), or training asked for
// bfloat16 autocast (ImageCodecModelImpl::set_training_bfloat16: the weights stay float32).
// Whatever it runs in, a network takes and returns float32, so nothing around it changes.
struct FloatNetworkDtype {
  torch::Dtype dtype = torch::kFloat;
  bool autocast_bfloat16 = false;
  torch::Tensor in(const torch::Tensor& x) const { return x.to(dtype); }
  static torch::Tensor out(const torch::Tensor& x) { return x.to(torch::kFloat); }
  BFloat16Autocast arithmetic(const torch::Tensor& x) const {
    return BFloat16Autocast(autocast_bfloat16, x.device().type());
  }
};

// RGB in [0,1] at full resolution -> y at 1/16.
struct AnalysisTransformImpl : torch::nn::Module, FloatNetworkDtype {
  explicit AnalysisTransformImpl(const ModelConfig& config);
  torch::Tensor forward(torch::Tensor x);
  torch::nn::Sequential body{nullptr};
};
TORCH_MODULE(AnalysisTransform);

// y_hat at 1/16 -> RGB at full resolution.
struct SynthesisTransformImpl : torch::nn::Module, FloatNetworkDtype {
  explicit SynthesisTransformImpl(const ModelConfig& config);
  torch::Tensor forward(torch::Tensor y_hat);
  torch::nn::Sequential body{nullptr};
};
TORCH_MODULE(SynthesisTransform);

// y at 1/16 -> z at 1/64.
struct HyperAnalysisImpl : torch::nn::Module, FloatNetworkDtype {
  explicit HyperAnalysisImpl(const ModelConfig& config);
  torch::Tensor forward(torch::Tensor y);
  torch::nn::Sequential body{nullptr};
};
TORCH_MODULE(HyperAnalysis);

// z_hat at 1/64 -> features at 1/16 (the hyperprior's contribution to the means).
struct HyperMeanSynthesisImpl : torch::nn::Module, FloatNetworkDtype {
  explicit HyperMeanSynthesisImpl(const ModelConfig& config);
  torch::Tensor forward(torch::Tensor z_hat);
  torch::nn::Sequential body{nullptr};
};
TORCH_MODULE(HyperMeanSynthesis);

// Means of the coding steps (model/latent_coding.h says which latents each step codes). The first
// step's means come from the hyper features alone.
//  - nic-evc-1: step 2 from the hyper features and the latents decoded in step 1, at full latent
//    resolution.
//  - nic-evc-2: steps 2-4 work at half latent resolution, one phase of the 2x2 quadtree at a
//    time: from the hyper features and hyper means at the step's phase, the latents of the
//    earlier phases, and the hidden state of the previous step (context carried forward); with
//    config.context_mean_mix = R, a 1x1 convolution first mixes those inputs down to R channels.
struct MeanPredictorImpl : torch::nn::Module, FloatNetworkDtype {
  explicit MeanPredictorImpl(const ModelConfig& config);
  torch::Tensor step1(const torch::Tensor& features);
  torch::Tensor step2(const torch::Tensor& features, const torch::Tensor& y_hat_step1);
  // nic-evc-2, step s = 1..3 (0-based): returns the means and sets `carried` to the state
  // passed to the next step (undefined on entry to step 1).
  torch::Tensor context_step(int s, const torch::Tensor& hyper_means, const torch::Tensor& features,
                             const torch::Tensor& y_hat_earlier, torch::Tensor& carried);
  torch::nn::Conv2d step1_out{nullptr};
  torch::nn::Sequential step2_body{nullptr};          // nic-evc-1
  std::vector<torch::nn::Sequential> context_bodies;  // nic-evc-2
  std::vector<torch::nn::Conv2d> context_outs;        // nic-evc-2
  // For training tools only (train/context_mixing.h): when set, context_step hands it s and the
  // concatenated inputs of step s's body before running it.
  std::function<void(int, const torch::Tensor&)> context_input_observer;
};
TORCH_MODULE(MeanPredictor);

}  // namespace nic
