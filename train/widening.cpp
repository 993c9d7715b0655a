#include "widening.h"

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
  // The new latents: y starts at zero (the analysis' last convolution), their means at zero (every
  // mean network's output), so they change no reconstruction and code as zero symbols.
  auto zero_new_outputs = [&](torch::nn::Conv2dImpl& conv) {
    conv.weight.slice(0, old_n).zero_();
    conv.bias.slice(0, old_n).zero_();
  };
  auto& last_analysis = *wide->g_a->body->ptr(wide->g_a->body->size() - 1);
  zero_new_outputs(dynamic_cast<torch::nn::Conv2dImpl&>(last_analysis));
  zero_new_outputs(*wide->means->step1_out);
  for (auto& out : wide->means->context_outs) zero_new_outputs(*out);
  // Their steps: the old latents' mean; their scale index: kNewLatentScaleIndex on the finest
  // anchor (coarser anchors, larger steps: lower), so that zeros cost almost nothing. The weights
  // stay small but not zero, so that the integer export has a weight scale to express the bias in.
  wide->q_basic_log2.slice(0, old_n).fill_(model.q_basic_log2.mean().item<double>());
  const double finest_log2_step =
      wide->q_basic_log2[old_n].item<double>() + wide->q_anchor_log2.min().item<double>();
  auto& scale_out = *wide->scale_net->convs.back();
  scale_out.weight.slice(0, old_n).mul_(0.1);
  scale_out.bias.slice(0, old_n).fill_(kNewLatentScaleIndex +
                                       kScaleIndexStepsPerOctave * finest_log2_step);
  return wide;
}

}  // namespace nic
