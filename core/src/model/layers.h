// Building blocks of the EVC-style transforms (docs/design.md).
#pragma once

#include <torch/torch.h>

#include "model/fused_conv.h"

namespace nic {

torch::nn::Conv2d conv3x3(int in, int out, int stride = 1);
torch::nn::Conv2d conv1x1(int in, int out, int stride = 1);

// 1x1 conv to out*r^2 channels, then PixelShuffle(r): learned upsampling without checkerboard
// artefacts.
struct SubpelConvImpl : torch::nn::Module {
  SubpelConvImpl(int in, int out, int factor);
  torch::Tensor forward(const torch::Tensor& x, Activation activation = Activation::kNone);
  torch::nn::Conv2d conv{nullptr};
  int factor;

 protected:
  // So that a Sequential may call forward(x).
  FORWARD_HAS_DEFAULT_ARGS({1, torch::nn::AnyValue(Activation::kNone)})
};
TORCH_MODULE(SubpelConv);

// DepthConv (1x1, depthwise 3x3, 1x1, residual) followed by ConvFFN (1x1 to 4C, ReLU, 1x1,
// residual).
struct DepthConvBlockImpl : torch::nn::Module {
  explicit DepthConvBlockImpl(int channels);
  torch::Tensor forward(const torch::Tensor& x);
  // h + ConvFFN(h). Without gradients it runs over bands of kFfnBandPixels and sums into h in
  // place (h is the block's own temporary): its 4C-channel intermediate is the largest tensor of
  // the transforms (100 MB at half resolution of a 768x512 frame), and a band of it stays in
  // cache instead of being faulted in afresh (768x512: the FFN of the first stage 0.065 s ->
  // 0.022 s on 2 cores). Bands change only the float rounding (docs/design.md, determinism).
  torch::Tensor add_ffn(torch::Tensor h);
  static constexpr int64_t kFfnBandPixels = 8192;
  torch::nn::Conv2d dc_in{nullptr}, dc_depthwise{nullptr}, dc_out{nullptr};
  torch::nn::Conv2d ffn_in{nullptr}, ffn_out{nullptr};
};
TORCH_MODULE(DepthConvBlock);

// Downsampling stage: 3x3 s2 conv, LeakyReLU, 3x3 conv, plus a 1x1 s2 shortcut.
struct ResidualDownImpl : torch::nn::Module {
  ResidualDownImpl(int in, int out);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, shortcut{nullptr};
};
TORCH_MODULE(ResidualDown);

// Upsampling stage mirroring ResidualDown with sub-pixel convolutions.
struct ResidualUpImpl : torch::nn::Module {
  ResidualUpImpl(int in, int out);
  torch::Tensor forward(const torch::Tensor& x);
  SubpelConv up{nullptr}, shortcut{nullptr};
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(ResidualUp);

torch::Tensor leaky_relu_activation(const torch::Tensor& x);

}  // namespace nic
