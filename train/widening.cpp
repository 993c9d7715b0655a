#include "widening.h"

#include <cmath>
#include <map>
#include <set>

#include "common/error.h"
#include "entropy/cdf_table.h"

namespace nic {

namespace {

// Where each entry of one dimension of a trained tensor goes in its wider namesake. Most
// dimensions are one channel space whose new channels are appended. The inputs of the context
// networks are concatenations of latent-sized parts (features, hyper means, earlier phases):
// there each part keeps its old entries at its start.
torch::Tensor destinations(int64_t old_size, int64_t new_size, bool latent_parts, int64_t old_part,
                           int64_t new_part, const std::string& name) {
  torch::Tensor index = torch::arange(old_size, torch::kInt64);
  if (old_size == new_size || !latent_parts) return index;
  require(old_size % old_part == 0 && new_size == old_size / old_part * new_part,
          NIC_ERROR_INTERNAL, "widening: " + name + " is not made of latent-sized parts");
  return torch::div(index, old_part, "floor") * new_part + index.remainder(old_part);
}

// The parameter-name prefix of each module (as named_parameters spells it).
std::map<const torch::nn::Module*, std::string> module_names(torch::nn::Module& model) {
  std::map<const torch::nn::Module*, std::string> names;
  for (const auto& item : model.named_modules()) names[item.value().get()] = item.key();
  return names;
}

}  // namespace

ImageCodecModel widen_model(ImageCodecModelImpl& model, const std::array<int, 3>& widths,
                            int latent_channels) {
  const ModelConfig& narrow = model.config;
  for (size_t i = 0; i < 3; ++i)
    require(widths[i] >= narrow.widths[i], NIC_ERROR_INVALID_ARGUMENT,
            "widening: the new widths must be at least the model's");
  require(latent_channels >= narrow.latent_channels, NIC_ERROR_INVALID_ARGUMENT,
          "widening: the new latent count must be at least the model's (" +
              std::to_string(narrow.latent_channels) + ")");
  ModelConfig wide_config = narrow;
  wide_config.widths = widths;
  wide_config.latent_channels = latent_channels;
  ImageCodecModel wide(wide_config);
  wide->to(model.q_anchor_log2.device());
  torch::NoGradGuard no_grad;

  const auto names = module_names(*wide);
  auto name_of = [&](const torch::nn::Module* m) { return names.at(m); };
  std::set<std::string> concatenated;  // weights whose inputs are latent-sized parts
  for (auto& body : wide->means->context_bodies)
    concatenated.insert(name_of(body->ptr(0).get()) + ".weight");
  for (const auto& net : wide->context_scales)
    concatenated.insert(name_of(net->convs[0].get()) + ".weight");

  std::map<std::string, torch::Tensor> source;
  for (const auto& p : model.named_parameters()) source[p.key()] = p.value();
  for (const auto& b : model.named_buffers()) source[b.key()] = b.value();
  const int64_t old_n = narrow.latent_channels, new_n = latent_channels;
  // Every trained tensor goes into its wider namesake; the new entries keep their fresh values,
  // except that an old output channel reads the new input channels through zero weights, so it
  // computes what it computed before, whatever they hold.
  auto place = [&](const std::string& name, torch::Tensor& target) {
    auto it = source.find(name);
    require(it != source.end() && it->second.dim() == target.dim(), NIC_ERROR_INTERNAL,
            "widening: no matching tensor for " + name);
    const torch::Tensor& old = it->second;
    std::vector<at::indexing::TensorIndex> where;
    for (int64_t d = 0; d < target.dim(); ++d) {
      require(old.size(d) <= target.size(d), NIC_ERROR_INTERNAL,
              "widening: " + name + " is larger in the model than in the wider one");
      std::vector<int64_t> shape(size_t(target.dim()), 1);
      shape[size_t(d)] = old.size(d);
      const bool parts = d == 1 && concatenated.count(name) > 0;
      where.emplace_back(destinations(old.size(d), target.size(d), parts, old_n, new_n, name)
                             .to(old.device())
                             .view(shape));
    }
    if (target.dim() >= 3 && old.size(1) < target.size(1)) target.slice(0, 0, old.size(0)).zero_();
    target.index_put_(where, old);
  };
  for (auto& p : wide->named_parameters()) place(p.key(), p.value());
  for (auto& b : wide->named_buffers()) place(b.key(), b.value());

  if (new_n == old_n) return wide;
  // The new latents start as quiet copies of the old ones that the hyperprior's scales (the bias
  // of its last layer) say carry the most: a copy is the source latent times kNewLatentScale, with
  // its means scaled alike and its scale index lowered to match, from the same step. Zero latents
  // would not do: a latent with nothing in it and a small scale is a trap that the rate keeps it
  // in, since the synthesis reads it through zero weights and so nothing pays for its first bits.
  // The copies cost rate from the first step and change no reconstruction (the synthesis reads
  // them through zero weights); training then decides what they carry.
  auto& scale_out = *wide->scale_net->convs.back();
  const torch::Tensor order = scale_out.bias.slice(0, 0, old_n).argsort(0, /*descending=*/true);
  const torch::Tensor sources =
      order.index({torch::arange(new_n - old_n, torch::kInt64).remainder(old_n)});
  const torch::Tensor copies = torch::arange(old_n, new_n, torch::kInt64);
  // Rows of the new latents from their sources' rows, on the old inputs only (dim 1 of a
  // convolution reading the latents' own concatenated parts is left as placed: zero).
  auto copy_rows = [&](torch::nn::Conv2dImpl& conv, double gain, double bias_shift) {
    const int64_t old_inputs = source.at(name_of(&conv) + ".weight").size(1);
    torch::Tensor from = conv.weight.index_select(0, sources.to(conv.weight.device()));
    torch::Tensor rows = torch::zeros_like(from);
    rows.slice(1, 0, old_inputs).copy_(from.slice(1, 0, old_inputs) * gain);
    conv.weight.index_copy_(0, copies.to(conv.weight.device()), rows);
    conv.bias.index_copy_(
        0, copies.to(conv.bias.device()),
        conv.bias.index_select(0, sources.to(conv.bias.device())) * gain + bias_shift);
  };
  auto& last_analysis = *wide->g_a->body->ptr(wide->g_a->body->size() - 1);
  copy_rows(dynamic_cast<torch::nn::Conv2dImpl&>(last_analysis), kNewLatentScale, 0.0);
  copy_rows(*wide->means->step1_out, kNewLatentScale, 0.0);
  for (auto& out : wide->means->context_outs) copy_rows(*out, kNewLatentScale, 0.0);
  const double index_shift = kScaleIndexStepsPerOctave * std::log2(kNewLatentScale);
  copy_rows(scale_out, 1.0, index_shift);
  for (auto& net : wide->context_scales) copy_rows(*net->convs.back(), 1.0, 0.0);
  wide->q_basic_log2.index_copy_(0, copies, model.q_basic_log2.index_select(0, sources));
  return wide;
}

}  // namespace nic
