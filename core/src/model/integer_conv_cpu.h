// The integer networks' 3x3 convolutions on x86 CPUs with AVX-512 (BW): int16 products summed in
// int32, a fraction of the time of LibTorch's float64 convolution. Integer arithmetic with no
// overflow, so it gives the same integers as every other form (model/integer_scale_net.h).
#pragma once

#include <torch/torch.h>

namespace nic {

class PackedIntegerConv {
 public:
  PackedIntegerConv() = default;
  // weight: float64 [out, in, 3, 3], integer values within +-kIntegerWeightLimit. Returns an
  // undefined convolution where this one cannot run it: a CPU without AVX-512 BW, or so many
  // inputs that a sum could leave int32.
  static PackedIntegerConv pack(const torch::Tensor& weight);
  bool defined() const { return weights_.defined(); }
  // x: float64 [1, in, h, w], integer values within +-kIntegerActivationLimit. Returns float64
  // [1, out, h, w]: the convolution with zero padding 1, without bias.
  torch::Tensor forward(const torch::Tensor& x) const;

 private:
  // int16 [9 taps, in_pairs, out_blocks, 16 outputs, 2 inputs]: one 512-bit vector of weights per
  // (tap, input pair, block of 16 outputs), zero beyond in and out.
  torch::Tensor weights_;
  int64_t in_ = 0, out_ = 0;
};

}  // namespace nic
