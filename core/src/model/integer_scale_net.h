// Integer-exact networks that choose probability tables: the hyperprior's scale network (z_hat ->
// scale index of every latent) and the context networks of the later coding steps (earlier
// symbols -> change of scale index). Every device computes the same integers, so every device
// selects the same tables (docs/design.md, determinism).
//
// Trained in float with fake quantization (int8 weights per output channel, 8-bit unsigned
// activations with a learned step); exported as integer weights, integer biases and float32
// requantization multipliers. At inference every convolution is a sum of integer products below
// 2^31, evaluated exactly (in int32 by the CPU kernel of model/integer_conv_cpu.h, else in
// float64), so any summation order gives the same result, and each requantization is one exact
// product plus a floor.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "entropy/cdf_table.h"  // the scale ladder its indices live on
#include "model/config.h"
#include "model/integer_conv_cpu.h"

namespace nic {

struct IntegerConvLayer {
  torch::Tensor weight;       // float64 [out, in, 3, 3], integer values in [-127, 127]
  torch::Tensor bias;         // float64 [out], integer values
  torch::Tensor multiplier;   // float64 [out], float32-representable
  bool clamp_to_byte = true;  // activation layers clamp to [0, 255]; the output layer does not
  int pixel_shuffle = 1;
};

// Inference form: exact on any device.
class IntegerScaleNet {
 public:
  IntegerScaleNet() = default;
  explicit IntegerScaleNet(std::vector<IntegerConvLayer> layers);
  // input: integer-valued (any dtype), clamped to +-kScaleNetInputLimit. For the hyperprior's
  // network, z_hat [B, Cz, h, w] -> int64 [B, N, 4h, 4w]: the scale index of y in 1/8-octave
  // steps (unclamped; the quantization step is applied by the caller).
  torch::Tensor forward(const torch::Tensor& input) const;
  const std::vector<IntegerConvLayer>& layers() const { return layers_; }
  IntegerScaleNet to(torch::Device device) const;

 private:
  std::vector<IntegerConvLayer> layers_;
  std::vector<PackedIntegerConv> packed_;  // per layer; defined where the CPU kernel runs it
};

// A 3x3 convolution (zero padding 1) of integer-valued float64 tensors whose products and sums
// stay below 2^53, so that any summation order gives the same result: a convolution on the CPU,
// nine shifted matmuls elsewhere.
torch::Tensor exact_conv3x3(const torch::Tensor& x, const torch::Tensor& w);
// The nine-matmul form, on any device and dtype (the tests compare the two).
torch::Tensor exact_conv3x3_by_taps(const torch::Tensor& x, const torch::Tensor& w);

// One 3x3 layer of an integer network: output channels (before the pixel shuffle), the
// shuffle factor, and whether it is a hidden layer (8-bit activation) or the output.
struct IntegerLayerShape {
  int out;
  int shuffle;
  bool hidden;
};

// Training form with fake quantization. The input must be integer-valued.
struct ScaleNetTrainableImpl : torch::nn::Module {
  // output_bias: the output layer's initial bias; output_gain scales its initial weights (a
  // small gain starts a context network near "no change").
  ScaleNetTrainableImpl(int in_channels, std::vector<IntegerLayerShape> shapes, double output_bias,
                        double output_gain = 1.0);
  // Returns the network's output (float, rounded with a straight-through gradient).
  torch::Tensor forward(const torch::Tensor& input);
  IntegerScaleNet export_integer() const;

  std::vector<IntegerLayerShape> shapes;
  std::vector<torch::nn::Conv2d> convs;
  torch::Tensor activation_log2_steps;  // one learned step per hidden activation
};
TORCH_MODULE(ScaleNetTrainable);

// The hyperprior's scale network: z_hat (1/64) -> scale index of y (1/16), two 2x upsamplings.
ScaleNetTrainable make_hyper_scale_net(const ModelConfig& config);

// Clamps of the scale network's input: z beyond this range saturates.
constexpr double kScaleNetInputLimit = 127.0;
// Integer weights are 8-bit: within +-kIntegerWeightLimit (the weights file is checked for it).
constexpr double kIntegerWeightLimit = 127.0;
// Hidden activations are 8-bit unsigned: within [0, kIntegerActivationLimit].
constexpr double kIntegerActivationLimit = 255.0;

}  // namespace nic
