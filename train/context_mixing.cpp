#include "context_mixing.h"

#include <algorithm>
#include <map>

#include "common/error.h"

namespace nic {

namespace {

// Items per forward pass while measuring: bounds the memory of the measurement.
constexpr int64_t kMomentBatch = 2;

// Ridge added to the second moments, relative to their mean eigenvalue: inputs that never vary
// (dead channels) would otherwise make the whitening divide by zero.
constexpr double kRidge = 1e-4;

torch::nn::Conv2dImpl& conv_at(torch::nn::Sequential& body, size_t index) {
  return *body->ptr(index)->as<torch::nn::Conv2dImpl>();
}

}  // namespace

std::vector<torch::Tensor> context_input_moments(ImageCodecModelImpl& model,
                                                 const torch::Tensor& images) {
  require(model.config.context_coding(), NIC_ERROR_INVALID_ARGUMENT,
          "context mixing: the model has no context coding steps");
  const size_t steps = model.means->context_bodies.size();
  std::vector<torch::Tensor> sums(steps);
  std::vector<int64_t> counts(steps, 0);
  model.means->context_input_observer = [&](int s, const torch::Tensor& input) {
    const torch::Tensor x =
        input.detach().to(torch::kCPU, torch::kDouble).transpose(0, 1).reshape({input.size(1), -1});
    const torch::Tensor xxt = x.matmul(x.t());
    auto& sum = sums.at(size_t(s - 1));
    sum = sum.defined() ? sum + xxt : xxt;
    counts[size_t(s - 1)] += x.size(1);
  };
  // Leaves the model as it found it, on an exception too.
  struct Restore {
    ImageCodecModelImpl& model;
    bool was_training;
    ~Restore() {
      model.means->context_input_observer = nullptr;
      model.train(was_training);
    }
  } restore{model, model.is_training()};
  model.eval();
  torch::NoGradGuard no_grad;
  const int64_t anchors = model.q_anchor_log2.size(0);
  const auto device = model.q_anchor_log2.device();
  for (int64_t first = 0; first < images.size(0); first += kMomentBatch) {
    const int64_t last = std::min(images.size(0), first + kMomentBatch);
    const torch::Tensor anchor = torch::arange(first, last, torch::kInt64).remainder(anchors);
    model.forward_train(images.slice(0, first, last).to(device), anchor.to(device));
  }
  for (size_t s = 0; s < steps; ++s) {
    require(counts[s] > 0, NIC_ERROR_INVALID_ARGUMENT, "context mixing: no images to measure on");
    sums[s] /= double(counts[s]);
  }
  return sums;
}

MixedModel mix_context_inputs(ImageCodecModelImpl& model, int channels,
                              const std::vector<torch::Tensor>& moments) {
  const ModelConfig& plain = model.config;
  require(plain.context_coding() && plain.context_mean_mix == 0, NIC_ERROR_INVALID_ARGUMENT,
          "context mixing: needs a nic-evc-2 model whose means do not mix their inputs yet");
  ModelConfig mixed_config = plain;
  mixed_config.context_mean_mix = channels;
  mixed_config = ModelConfig::from_json(mixed_config.to_json());  // throws on a bad count
  const size_t steps = model.means->context_bodies.size();
  require(moments.empty() || moments.size() == steps, NIC_ERROR_INVALID_ARGUMENT,
          "context mixing: need the input moments of every later step");

  MixedModel out;
  out.model = ImageCodecModel(mixed_config);
  ImageCodecModelImpl& mixed = *out.model;
  mixed.to(model.q_anchor_log2.device());
  torch::NoGradGuard no_grad;
  // Everything but the means' bodies keeps its name and shape.
  std::map<std::string, torch::Tensor> source;
  for (const auto& p : model.named_parameters()) source[p.key()] = p.value();
  for (const auto& b : model.named_buffers()) source[b.key()] = b.value();
  auto copy_named = [&](const std::string& name, torch::Tensor& target) {
    auto it = source.find(name);
    if (it != source.end() && it->second.sizes() == target.sizes()) target.copy_(it->second);
  };
  for (auto& p : mixed.named_parameters()) copy_named(p.key(), p.value());
  for (auto& b : mixed.named_buffers()) copy_named(b.key(), b.value());

  for (size_t s = 0; s < steps; ++s) {
    torch::nn::Conv2dImpl& first = conv_at(model.means->context_bodies[s], 0);
    torch::nn::Conv2dImpl& mix = conv_at(mixed.means->context_bodies[s], 0);
    torch::nn::Conv2dImpl& after_mix = conv_at(mixed.means->context_bodies[s], 1);
    // W as a matrix from the inputs to (output, tap): [n * 9, in].
    const int64_t n = first.weight.size(0), in = first.weight.size(1);
    const torch::Tensor w = first.weight.detach().to(torch::kCPU, torch::kDouble);
    const torch::Tensor m = w.permute({0, 2, 3, 1}).reshape({n * 9, in});
    // Whitening by C^(1/2): the truncated SVD of M C^(1/2) gives the product that errs least
    // in E|(M - B A) x|^2, which is |(M - B A) C^(1/2)|^2.
    torch::Tensor root = torch::eye(in, torch::kDouble), inverse_root = root;
    if (!moments.empty()) {
      const torch::Tensor c = moments[s].to(torch::kCPU, torch::kDouble);
      require(c.dim() == 2 && c.size(0) == in && c.size(1) == in, NIC_ERROR_INVALID_ARGUMENT,
              "context mixing: input moments of the wrong size");
      const double ridge = kRidge * c.diagonal().mean().item<double>() + 1e-12;
      auto [values, vectors] = torch::linalg_eigh(c + ridge * torch::eye(in, torch::kDouble));
      values = values.clamp_min(ridge);
      root = vectors.matmul(torch::diag(values.sqrt())).matmul(vectors.t());
      inverse_root = vectors.matmul(torch::diag(values.rsqrt())).matmul(vectors.t());
    }
    auto [u, sigma, vt] = torch::linalg_svd(m.matmul(root), /*full_matrices=*/false);
    const int64_t k = std::min<int64_t>(channels, sigma.size(0));
    const torch::Tensor energy = sigma.square();
    out.kept.push_back(
        (energy.slice(0, 0, k).sum() / energy.sum().clamp_min(1e-300)).item<double>());
    // A = V_k^T C^(-1/2), whose outputs are white on the measured inputs; B = U_k S_k.
    const torch::Tensor a = vt.slice(0, 0, k).matmul(inverse_root);   // [k, in]
    const torch::Tensor b = u.slice(1, 0, k) * sigma.slice(0, 0, k);  // [n * 9, k]
    mix.weight.zero_();
    mix.weight.slice(0, 0, k).copy_(a.view({k, in, 1, 1}));
    after_mix.weight.zero_();
    after_mix.weight.slice(1, 0, k).copy_(b.view({n, 3, 3, k}).permute({0, 3, 1, 2}));
    after_mix.bias.copy_(first.bias);
    // The rest of the body (activation, 3x3 from n to n, activation) moves one place on.
    conv_at(mixed.means->context_bodies[s], 3)
        .weight.copy_(conv_at(model.means->context_bodies[s], 2).weight);
    conv_at(mixed.means->context_bodies[s], 3)
        .bias.copy_(conv_at(model.means->context_bodies[s], 2).bias);
  }
  return out;
}

}  // namespace nic
