#include "model/transforms.h"

#include <ATen/autocast_mode.h>

namespace nic {

BFloat16Autocast::BFloat16Autocast(bool enabled, c10::DeviceType device)
    : enabled_(enabled), device_(device) {
  if (!enabled_) return;
  was_enabled_ = at::autocast::is_autocast_enabled(device_);
  was_dtype_ = at::autocast::get_autocast_dtype(device_);
  at::autocast::set_autocast_enabled(device_, true);
  at::autocast::set_autocast_dtype(device_, at::kBFloat16);
  at::autocast::increment_nesting();
}

BFloat16Autocast::~BFloat16Autocast() {
  if (!enabled_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(device_, was_enabled_);
  at::autocast::set_autocast_dtype(device_, was_dtype_);
}

namespace {

struct LeakyReLUImpl : torch::nn::Module {
  torch::Tensor forward(const torch::Tensor& x) { return leaky_relu_activation(x); }
};
TORCH_MODULE(LeakyReLU);

void append_blocks(torch::nn::Sequential& seq, int channels, int count) {
  for (int i = 0; i < count; ++i) seq->push_back(DepthConvBlock(channels));
}

// The two full-resolution transforms run channels-last where LibTorch's oneDNN convolutions allow
// it: they then keep one layout throughout, where NCHW reorders at every layer and in every
// backward pass (docs/design.md, "CPU speed"). That is inference, and training in bfloat16 on the
// CPU (2.0 -> 4.9 steps/s for the default recipe on 2 AMX cores). float32 training and the
// encoder's refinement keep NCHW: oneDNN's float32 channels-last weight gradient segfaults in
// LibTorch 2.11 (tests/train/test_train.sh's float32 runs found it). The result leaves in the
// usual layout.
bool runs_channels_last(const torch::Tensor& x) {
  if (!torch::GradMode::is_enabled()) return true;
  return x.is_cpu() && at::autocast::is_autocast_enabled(c10::DeviceType::CPU);
}

torch::Tensor run_transform(torch::nn::Sequential& body, const torch::Tensor& x) {
  if (!runs_channels_last(x)) return body->forward(x);
  // oneDNN takes the layout from the input's suggested memory format, which a view of HWC pixels
  // (channels-last only if its size-1 batch stride is ignored) does not give: such an input is
  // copied into the canonical layout.
  const auto layout = torch::MemoryFormat::ChannelsLast;
  const torch::Tensor in = x.suggest_memory_format() == layout ? x : x.clone(layout);
  return body->forward(in).contiguous();
}

}  // namespace

AnalysisTransformImpl::AnalysisTransformImpl(const ModelConfig& c) {
  torch::nn::Sequential seq;
  int in = 3;
  for (int width : c.widths) {
    seq->push_back(ResidualDown(in, width));
    append_blocks(seq, width, c.blocks_per_stage);
    in = width;
  }
  seq->push_back(conv3x3(in, c.latent_channels, 2));
  body = register_module("body", seq);
}

torch::Tensor AnalysisTransformImpl::forward(torch::Tensor x) {
  const auto scope = arithmetic(x);
  return out(run_transform(body, in(x)));
}

SynthesisTransformImpl::SynthesisTransformImpl(const ModelConfig& c) {
  torch::nn::Sequential seq;
  int in = c.latent_channels;
  append_blocks(seq, in, c.blocks_per_stage);
  for (int i = 2; i >= 0; --i) {
    seq->push_back(ResidualUp(in, c.widths[i]));
    append_blocks(seq, c.widths[i], c.blocks_per_stage);
    in = c.widths[i];
  }
  seq->push_back(SubpelConv(in, 3, 2));
  body = register_module("body", seq);
}

torch::Tensor SynthesisTransformImpl::forward(torch::Tensor y_hat) {
  const auto scope = arithmetic(y_hat);
  return out(run_transform(body, in(y_hat)));
}

HyperAnalysisImpl::HyperAnalysisImpl(const ModelConfig& c) {
  const int n = c.latent_channels, h = c.hyper_channels;
  body = register_module("body", torch::nn::Sequential(conv3x3(n, h), LeakyReLU(), conv3x3(h, h, 2),
                                                       LeakyReLU(), conv3x3(h, h, 2)));
}

torch::Tensor HyperAnalysisImpl::forward(torch::Tensor y) {
  const auto scope = arithmetic(y);
  return out(body->forward(in(y)));
}

HyperMeanSynthesisImpl::HyperMeanSynthesisImpl(const ModelConfig& c) {
  const int n = c.latent_channels, h = c.hyper_channels;
  body = register_module(
      "body", torch::nn::Sequential(conv3x3(h, h), LeakyReLU(), SubpelConv(h, h, 2), LeakyReLU(),
                                    conv3x3(h, n), LeakyReLU(), SubpelConv(n, n, 2), LeakyReLU(),
                                    conv3x3(n, n)));
}

torch::Tensor HyperMeanSynthesisImpl::forward(torch::Tensor z_hat) {
  const auto scope = arithmetic(z_hat);
  return out(body->forward(in(z_hat)));
}

MeanPredictorImpl::MeanPredictorImpl(const ModelConfig& c) {
  const int n = c.latent_channels;
  step1_out = register_module("step1_out", conv1x1(n, n));
  if (!c.context_coding()) {
    step2_body = register_module(
        "step2_body", torch::nn::Sequential(conv3x3(2 * n, n), LeakyReLU(), conv3x3(n, n),
                                            LeakyReLU(), conv1x1(n, n)));
    return;
  }
  for (int s = 1; s <= 3; ++s) {
    // Inputs: features and hyper means of the phase, s earlier phases, the carried state.
    const int in = 2 * n + s * n + (s > 1 ? n : 0);
    torch::nn::Sequential body;
    if (c.context_mean_mix > 0) {
      // No bias: the mix maps the 3x3 convolution's zero padding to zero, as without it.
      body->push_back(
          torch::nn::Conv2d(torch::nn::Conv2dOptions(in, c.context_mean_mix, 1).bias(false)));
      body->push_back(conv3x3(c.context_mean_mix, n));
    } else {
      body->push_back(conv3x3(in, n));
    }
    body->push_back(LeakyReLU());
    body->push_back(conv3x3(n, n));
    body->push_back(LeakyReLU());
    context_bodies.push_back(register_module("context" + std::to_string(s) + "_body", body));
    context_outs.push_back(register_module("context" + std::to_string(s) + "_out", conv1x1(n, n)));
  }
}

torch::Tensor MeanPredictorImpl::context_step(int s, const torch::Tensor& hyper_means,
                                              const torch::Tensor& features,
                                              const torch::Tensor& y_hat_earlier,
                                              torch::Tensor& carried) {
  const auto scope = arithmetic(features);
  std::vector<torch::Tensor> inputs = {in(features), in(hyper_means), in(y_hat_earlier)};
  if (carried.defined()) inputs.push_back(carried);  // already in dtype
  const torch::Tensor input = torch::cat(inputs, 1);
  if (context_input_observer) context_input_observer(s, input);
  carried = context_bodies.at(size_t(s - 1))->forward(input);
  // A correction of the hyper means, so that a new context network starts from them.
  return hyper_means + out(context_outs[size_t(s - 1)](carried));
}

torch::Tensor MeanPredictorImpl::step1(const torch::Tensor& features) {
  const auto scope = arithmetic(features);
  return out(step1_out(in(features)));
}

torch::Tensor MeanPredictorImpl::step2(const torch::Tensor& features,
                                       const torch::Tensor& y_hat_step1) {
  const auto scope = arithmetic(features);
  return out(step2_body->forward(torch::cat({in(features), in(y_hat_step1)}, 1)));
}

}  // namespace nic
