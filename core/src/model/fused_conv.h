// Convolutions with what follows them fused in: an activation, or the sum with a residual.
// Training and every other device run the plain LibTorch ops. Inference in float32 or bfloat16
// on the CPU runs each as one oneDNN primitive (LibTorch's mkldnn::_convolution_pointwise, the op
// that torch.compile's CPU backend emits), so the activation or the sum is applied while the output
// is still in cache instead of in another pass over a frame-sized tensor (docs/design.md,
// "CPU speed"). Fusing changes only the float rounding of the transforms, never parsing.
#pragma once

#include <torch/torch.h>

namespace nic {

enum class Activation { kNone, kReLU, kLeakyReLU };

// The slope of the leaky ReLU used throughout the model.
constexpr double kLeakyReLUSlope = 0.01;

// Whether this LibTorch has the oneDNN ops, so that CPU inference takes the fused path.
bool fused_convolutions_available();

torch::Tensor apply_activation(const torch::Tensor& x, Activation activation);

// activation(conv(x)).
torch::Tensor conv_then(torch::nn::Conv2d& conv, const torch::Tensor& x, Activation activation);

// conv(x) + residual (residual has conv(x)'s shape).
torch::Tensor conv_plus(torch::nn::Conv2d& conv, const torch::Tensor& x,
                        const torch::Tensor& residual);

// accumulator += conv(x), in place: for a sum whose other term is the caller's own temporary,
// without the copy that conv_plus makes. Returns accumulator.
torch::Tensor& add_conv_into(torch::Tensor& accumulator, torch::nn::Conv2d& conv,
                             const torch::Tensor& x);

}  // namespace nic
