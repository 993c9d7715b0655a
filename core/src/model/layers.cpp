#include "model/layers.h"

#include "model/fused_conv.h"

namespace nic {

namespace F = torch::nn::functional;

torch::nn::Conv2d conv3x3(int in, int out, int stride) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1));
}

torch::nn::Conv2d conv1x1(int in, int out, int stride) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).stride(stride));
}

torch::Tensor leaky_relu_activation(const torch::Tensor& x) {
  return apply_activation(x, Activation::kLeakyReLU);
}

SubpelConvImpl::SubpelConvImpl(int in, int out, int factor_) : factor(factor_) {
  conv = register_module("conv", conv1x1(in, out * factor * factor));
}

torch::Tensor SubpelConvImpl::forward(const torch::Tensor& x, Activation activation) {
  // An activation commutes with the shuffle, so it is fused into the convolution.
  return torch::pixel_shuffle(conv_then(conv, x, activation), factor);
}

DepthConvBlockImpl::DepthConvBlockImpl(int c) {
  dc_in = register_module("dc_in", conv1x1(c, c));
  dc_depthwise = register_module(
      "dc_depthwise", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, c, 3).padding(1).groups(c)));
  dc_out = register_module("dc_out", conv1x1(c, c));
  ffn_in = register_module("ffn_in", conv1x1(c, 4 * c));
  ffn_out = register_module("ffn_out", conv1x1(4 * c, c));
}

torch::Tensor DepthConvBlockImpl::forward(const torch::Tensor& x) {
  return add_ffn(conv_plus(dc_out, dc_depthwise(conv_then(dc_in, x, Activation::kLeakyReLU)), x));
}

torch::Tensor DepthConvBlockImpl::add_ffn(torch::Tensor h) {
  const int64_t height = h.size(2), width = h.size(3);
  if (torch::GradMode::is_enabled() || height * width <= 2 * kFfnBandPixels)
    return conv_plus(ffn_out, conv_then(ffn_in, h, Activation::kReLU), h);
  // Each band's FFN reads only its own rows, so the sum goes into h in place.
  const int64_t rows = std::max<int64_t>(1, kFfnBandPixels / width);
  for (int64_t row = 0; row < height; row += rows) {
    torch::Tensor band = h.narrow(2, row, std::min(rows, height - row));
    add_conv_into(band, ffn_out, conv_then(ffn_in, band, Activation::kReLU));
  }
  return h;
}

ResidualDownImpl::ResidualDownImpl(int in, int out) {
  conv1 = register_module("conv1", conv3x3(in, out, 2));
  conv2 = register_module("conv2", conv3x3(out, out));
  shortcut = register_module("shortcut", conv1x1(in, out, 2));
}

torch::Tensor ResidualDownImpl::forward(const torch::Tensor& x) {
  torch::Tensor main =
      conv_then(conv2, conv_then(conv1, x, Activation::kLeakyReLU), Activation::kLeakyReLU);
  return add_conv_into(main, shortcut, x);
}

ResidualUpImpl::ResidualUpImpl(int in, int out) {
  up = register_module("up", SubpelConv(in, out, 2));
  conv = register_module("conv", conv3x3(out, out));
  shortcut = register_module("shortcut", SubpelConv(in, out, 2));
}

torch::Tensor ResidualUpImpl::forward(const torch::Tensor& x) {
  const torch::Tensor main = up(x, Activation::kLeakyReLU);
  return conv_then(conv, main, Activation::kLeakyReLU) + shortcut(x);
}

}  // namespace nic
