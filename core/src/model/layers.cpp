#include "model/layers.h"

namespace nic {

namespace F = torch::nn::functional;

torch::nn::Conv2d conv3x3(int in, int out, int stride) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1));
}

torch::nn::Conv2d conv1x1(int in, int out, int stride) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).stride(stride));
}

torch::Tensor leaky_relu_activation(const torch::Tensor& x) { return torch::leaky_relu(x, 0.01); }

SubpelConvImpl::SubpelConvImpl(int in, int out, int factor_) : factor(factor_) {
  conv = register_module("conv", conv1x1(in, out * factor * factor));
}

torch::Tensor SubpelConvImpl::forward(const torch::Tensor& x) {
  return torch::pixel_shuffle(conv(x), factor);
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
  return add_ffn(x + dc_out(dc_depthwise(leaky_relu_activation(dc_in(x)))));
}

torch::Tensor DepthConvBlockImpl::add_ffn(const torch::Tensor& h) {
  const int64_t height = h.size(2), width = h.size(3);
  if (torch::GradMode::is_enabled() || height * width <= 2 * kFfnBandPixels)
    return h + ffn_out(torch::relu(ffn_in(h)));
  const int64_t rows = std::max<int64_t>(1, kFfnBandPixels / width);
  torch::Tensor out = torch::empty_like(h);  // keeps h's memory format
  for (int64_t row = 0; row < height; row += rows) {
    const int64_t n = std::min(rows, height - row);
    const torch::Tensor band = h.narrow(2, row, n);
    torch::Tensor band_out = out.narrow(2, row, n);
    torch::Tensor hidden = ffn_in(band);
    torch::add_out(band_out, band, ffn_out(hidden.relu_()));
  }
  return out;
}

ResidualDownImpl::ResidualDownImpl(int in, int out) {
  conv1 = register_module("conv1", conv3x3(in, out, 2));
  conv2 = register_module("conv2", conv3x3(out, out));
  shortcut = register_module("shortcut", conv1x1(in, out, 2));
}

torch::Tensor ResidualDownImpl::forward(const torch::Tensor& x) {
  return leaky_relu_activation(conv2(leaky_relu_activation(conv1(x)))) + shortcut(x);
}

ResidualUpImpl::ResidualUpImpl(int in, int out) {
  up = register_module("up", SubpelConv(in, out, 2));
  conv = register_module("conv", conv3x3(out, out));
  shortcut = register_module("shortcut", SubpelConv(in, out, 2));
}

torch::Tensor ResidualUpImpl::forward(const torch::Tensor& x) {
  return leaky_relu_activation(conv(leaky_relu_activation(up(x)))) + shortcut(x);
}

}  // namespace nic
