// The scale network: z_hat -> scale index of every latent, computed with integer-exact
// arithmetic so that every device selects the same probability tables (DESIGN.md §4).
//
// Trained in float with fake quantization (int8 weights per output channel, 8-bit unsigned
// activations with a learned step); exported as integer weights, integer biases and float32
// requantization multipliers. At inference every convolution is a sum of integer products below
// 2^53 evaluated in float64, so any summation order gives the same result, and each requantization
// is one exact product plus a floor.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "model/config.h"

namespace nic {

// Scale index convention: index i means sigma = 2^(-3 + i/8) (the 1/8-octave ladder of the
// Gaussian tables, cdf_table.h).
constexpr int kScaleLevels = 73;
constexpr int kScaleIndexStepsPerOctave = 8;

struct IntegerConvLayer {
  torch::Tensor weight;      // float64 [out, in, 3, 3], integer values in [-127, 127]
  torch::Tensor bias;        // float64 [out], integer values
  torch::Tensor multiplier;  // float64 [out], float32-representable
  bool clamp_to_byte = true; // activation layers clamp to [0, 255]; the output layer does not
  int pixel_shuffle = 1;
};

// Inference form: exact on any device.
class IntegerScaleNet {
 public:
  IntegerScaleNet() = default;
  explicit IntegerScaleNet(std::vector<IntegerConvLayer> layers) : layers_(std::move(layers)) {}
  // z_hat: [B, Cz, h, w] integer-valued (any dtype). Returns int64 [B, N, 4h, 4w]: the scale
  // index of y in 1/8-octave steps (unclamped; the quantization step is applied by the caller).
  torch::Tensor forward(const torch::Tensor& z_hat) const;
  const std::vector<IntegerConvLayer>& layers() const { return layers_; }
  IntegerScaleNet to(torch::Device device) const;

 private:
  std::vector<IntegerConvLayer> layers_;
};

// Training form with fake quantization.
struct ScaleNetTrainableImpl : torch::nn::Module {
  explicit ScaleNetTrainableImpl(const ModelConfig& config);
  // Returns the scale index of y (float, rounded with a straight-through gradient).
  torch::Tensor forward(const torch::Tensor& z_hat);
  IntegerScaleNet export_integer() const;

  std::vector<torch::nn::Conv2d> convs;
  torch::Tensor activation_log2_steps;  // one learned step per hidden activation
};
TORCH_MODULE(ScaleNetTrainable);

// Clamps of the scale network's input: z beyond this range saturates.
constexpr double kScaleNetInputLimit = 127.0;

}  // namespace nic
