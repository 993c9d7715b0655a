#include "model/integer_scale_net.h"

#include <cmath>

namespace nic {

namespace {

constexpr double kWeightLevels = kIntegerWeightLimit;
constexpr double kActivationLevels = kIntegerActivationLimit;

torch::Tensor round_ste(const torch::Tensor& x) { return x + (torch::round(x) - x).detach(); }

}  // namespace

torch::Tensor exact_conv3x3_by_taps(const torch::Tensor& x, const torch::Tensor& w) {
  const int64_t b = x.size(0), cin = x.size(1), h = x.size(2), wd = x.size(3);
  const int64_t cout = w.size(0);
  torch::Tensor padded = torch::constant_pad_nd(x, {1, 1, 1, 1}, 0.0);
  torch::Tensor out = torch::zeros({b, cout, h * wd}, x.options());
  for (int dy = 0; dy < 3; ++dy) {
    for (int dx = 0; dx < 3; ++dx) {
      torch::Tensor shifted =
          padded.slice(2, dy, dy + h).slice(3, dx, dx + wd).reshape({b, cin, h * wd});
      torch::Tensor tap = w.select(3, dx).select(2, dy);  // [cout, cin]
      out += torch::matmul(tap, shifted);
    }
  }
  return out.reshape({b, cout, h, wd});
}

torch::Tensor exact_conv3x3(const torch::Tensor& x, const torch::Tensor& w) {
  // LibTorch's float64 convolution on the CPU is im2col and a GEMM (oneDNN takes no float64),
  // a third to half the time of the nine matmuls. A GPU library may pick Winograd or FFT
  // algorithms, whose intermediates are not integers, so other devices keep the matmuls.
  if (x.is_cpu()) return torch::conv2d(x, w, {}, 1, 1);
  return exact_conv3x3_by_taps(x, w);
}

IntegerScaleNet::IntegerScaleNet(std::vector<IntegerConvLayer> layers)
    : layers_(std::move(layers)) {
  for (const IntegerConvLayer& layer : layers_)
    packed_.push_back(PackedIntegerConv::pack(layer.weight));
}

torch::Tensor IntegerScaleNet::forward(const torch::Tensor& input) const {
  torch::NoGradGuard no_grad;
  torch::Tensor a = input.to(torch::kFloat64).clamp(-kScaleNetInputLimit, kScaleNetInputLimit);
  for (size_t i = 0; i < layers_.size(); ++i) {
    const IntegerConvLayer& layer = layers_[i];
    // The input of a layer is within +-255: the clamped input or an 8-bit activation (the weights
    // loader refuses a layer after one that does not clamp).
    const torch::Tensor conv = packed_[i].defined() && a.size(0) == 1
                                   ? packed_[i].forward(a)
                                   : exact_conv3x3(a, layer.weight);
    torch::Tensor acc = conv + layer.bias.view({1, -1, 1, 1});
    // Exact: acc has < 30 significant bits, the multiplier 24.
    torch::Tensor v = torch::floor(acc * layer.multiplier.view({1, -1, 1, 1}) + 0.5);
    if (layer.clamp_to_byte) v = v.clamp(0.0, kActivationLevels);
    if (layer.pixel_shuffle > 1) v = torch::pixel_shuffle(v, layer.pixel_shuffle);
    a = v;
  }
  return a.to(torch::kInt64);
}

IntegerScaleNet IntegerScaleNet::to(torch::Device device) const {
  std::vector<IntegerConvLayer> moved = layers_;
  for (IntegerConvLayer& l : moved) {
    l.weight = l.weight.to(device);
    l.bias = l.bias.to(device);
    l.multiplier = l.multiplier.to(device);
  }
  return IntegerScaleNet(std::move(moved));
}

ScaleNetTrainable make_hyper_scale_net(const ModelConfig& c) {
  const int width = c.scale_net_channels;
  // Two pixel-shuffle upsamplings take z (1/64) to y (1/16). The output starts near sigma ~ 1.
  return ScaleNetTrainable(
      c.hyper_channels,
      std::vector<IntegerLayerShape>{
          {width, 1, true}, {width, 2, true}, {width, 2, true}, {c.latent_channels, 1, false}},
      24.0);
}

ScaleNetTrainableImpl::ScaleNetTrainableImpl(int in_channels, std::vector<IntegerLayerShape> s,
                                             double output_bias, double output_gain)
    : shapes(std::move(s)) {
  int in = in_channels;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const int conv_out = shapes[i].out * shapes[i].shuffle * shapes[i].shuffle;
    convs.push_back(
        register_module("conv" + std::to_string(i),
                        torch::nn::Conv2d(torch::nn::Conv2dOptions(in, conv_out, 3).padding(1))));
    in = shapes[i].out;
  }
  // Activations start with a step of 1/16 (range [0, 16)).
  activation_log2_steps =
      register_parameter("activation_log2_steps", torch::full({int64_t(shapes.size()) - 1}, -4.0));
  torch::NoGradGuard no_grad;
  convs.back()->bias.fill_(output_bias);
  convs.back()->weight.mul_(output_gain);
}

torch::Tensor ScaleNetTrainableImpl::forward(const torch::Tensor& input) {
  torch::Tensor a = input.clamp(-kScaleNetInputLimit, kScaleNetInputLimit);
  for (size_t i = 0; i < convs.size(); ++i) {
    const torch::Tensor& w = convs[i]->weight;
    torch::Tensor step_w = (w.abs().amax({1, 2, 3}, true).clamp_min(1e-8) / kWeightLevels).detach();
    torch::Tensor wq = round_ste(w / step_w) * step_w;
    torch::Tensor x = torch::conv2d(a, wq, convs[i]->bias, 1, 1);
    if (shapes[i].hidden) {
      torch::Tensor step_a = torch::exp2(activation_log2_steps[i]);
      x = torch::clamp(round_ste(x / step_a), 0.0, kActivationLevels) * step_a;
      if (shapes[i].shuffle > 1) x = torch::pixel_shuffle(x, shapes[i].shuffle);
    } else {
      x = round_ste(x);
    }
    a = x;
  }
  return a;
}

IntegerScaleNet ScaleNetTrainableImpl::export_integer() const {
  torch::NoGradGuard no_grad;
  std::vector<IntegerConvLayer> layers;
  double step_in = 1.0;  // z_hat is integer
  for (size_t i = 0; i < convs.size(); ++i) {
    torch::Tensor w = convs[i]->weight.detach().to(torch::kCPU, torch::kFloat64);
    torch::Tensor b = convs[i]->bias.detach().to(torch::kCPU, torch::kFloat64);
    torch::Tensor step_w = w.abs().amax({1, 2, 3}).clamp_min(1e-8) / kWeightLevels;  // [out]
    const double step_out =
        shapes[i].hidden ? std::exp2(activation_log2_steps[i].item<double>()) : 1.0;
    IntegerConvLayer layer;
    layer.weight =
        torch::round(w / step_w.view({-1, 1, 1, 1})).clamp(-kWeightLevels, kWeightLevels);
    layer.bias = torch::round(b / (step_w * step_in)).clamp(-(1 << 24), 1 << 24);
    // Rounded to float32 so that acc * multiplier is exact in float64.
    layer.multiplier = (step_w * step_in / step_out).to(torch::kFloat32).to(torch::kFloat64);
    layer.clamp_to_byte = shapes[i].hidden;
    layer.pixel_shuffle = shapes[i].shuffle;
    layers.push_back(layer);
    step_in = step_out;
  }
  return IntegerScaleNet(std::move(layers));
}

}  // namespace nic
