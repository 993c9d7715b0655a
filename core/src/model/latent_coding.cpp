#include "model/latent_coding.h"

#include <array>

#include "common/error.h"

namespace nic {

namespace {

// nic-evc-2's coding order of the 2x2 quadtree phases, (row, column) offsets: the diagonal
// first, so that the third and fourth steps have decoded neighbours on all four sides.
constexpr std::array<std::array<int, 2>, 4> kQuadtreePhases = {{{0, 0}, {1, 1}, {0, 1}, {1, 0}}};
constexpr double kMaxScaleIndex = kScaleLevels - 1;

// [B, C, h, w] -> the four phases [B, C, h/2, w/2], in coding order.
std::vector<torch::Tensor> split_phases(const torch::Tensor& t) {
  const int64_t b = t.size(0), c = t.size(1), h = t.size(2), w = t.size(3);
  torch::Tensor v = t.view({b, c, h / 2, 2, w / 2, 2});
  std::vector<torch::Tensor> phases;
  for (const auto& p : kQuadtreePhases) phases.push_back(v.select(5, p[1]).select(3, p[0]));
  return phases;
}

// Inverse of split_phases.
torch::Tensor merge_phases(const std::vector<torch::Tensor>& phases) {
  torch::Tensor grid[2][2];
  for (size_t i = 0; i < kQuadtreePhases.size(); ++i)
    grid[kQuadtreePhases[i][0]][kQuadtreePhases[i][1]] = phases[i];
  torch::Tensor rows[2];
  for (int dy = 0; dy < 2; ++dy) rows[dy] = torch::stack({grid[dy][0], grid[dy][1]}, -1);
  torch::Tensor full = torch::stack({rows[0], rows[1]}, 3);  // [B, C, h/2, 2, w/2, 2]
  const auto& p = phases[0];
  return full.reshape({p.size(0), p.size(1), 2 * p.size(2), 2 * p.size(3)});
}

// The input of step s's context network: the hyperprior's index at the phase and the magnitudes
// of the symbols of the s earlier phases.
torch::Tensor context_input(const std::vector<torch::Tensor>& base,
                            const std::vector<torch::Tensor>& symbols, int s) {
  std::vector<torch::Tensor> inputs = {base[size_t(s)]};
  for (int e = 0; e < s; ++e) inputs.push_back(symbols[size_t(e)].abs());
  return torch::cat(inputs, 1);
}

}  // namespace

torch::Tensor round_straight_through(const torch::Tensor& x) {
  return x + (torch::round(x) - x).detach();
}

torch::Tensor dual_checkerboard_mask(int64_t channels, int64_t h, int64_t w,
                                     const torch::TensorOptions& opts) {
  torch::Tensor rows = torch::arange(h, torch::kInt64).view({h, 1});
  torch::Tensor cols = torch::arange(w, torch::kInt64).view({1, w});
  torch::Tensor even = ((rows + cols) % 2 == 0).to(torch::kFloat32);  // [h, w]
  torch::Tensor first = even.unsqueeze(0).expand({channels / 2, h, w});
  torch::Tensor second = (1.0 - even).unsqueeze(0).expand({channels - channels / 2, h, w});
  return torch::cat({first, second}, 0).unsqueeze(0).to(opts);
}

std::vector<ScaleNetTrainable> make_context_scale_nets(const ModelConfig& c) {
  std::vector<ScaleNetTrainable> nets;
  if (!c.has_context_scales()) return nets;
  const int n = c.latent_channels, width = c.context_scale_channels;
  for (int s = 1; s <= 3; ++s) {
    // Output: the change of the hyperprior's index, starting near none.
    nets.push_back(ScaleNetTrainable(
        n + s * n,
        std::vector<IntegerLayerShape>{{width, 1, true}, {width, 1, true}, {n, 1, false}}, 0.0,
        0.05));
  }
  return nets;
}

LatentCoding::LatentCoding(const ModelConfig& config, MeanPredictor means, Perturb perturb)
    : quadtree_(config.context_coding()),
      context_scales_(config.has_context_scales()),
      means_(std::move(means)),
      perturb_(std::move(perturb)) {}

torch::Tensor LatentCoding::step_positions(int s, int64_t channels, int64_t height,
                                           int64_t width) const {
  if (quadtree_) {
    const auto& p = kQuadtreePhases.at(size_t(s));
    torch::Tensor c = torch::arange(channels, torch::kInt64).view({channels, 1, 1});
    torch::Tensor r = (torch::arange(height / 2, torch::kInt64) * 2 + p[0]).view({1, -1, 1});
    torch::Tensor q = (torch::arange(width / 2, torch::kInt64) * 2 + p[1]).view({1, 1, -1});
    return (c * (height * width) + r * width + q).reshape({channels, -1});
  }
  torch::Tensor mask = dual_checkerboard_mask(channels, height, width, torch::kFloat32);
  if (s == 1) mask = 1.0 - mask;
  // nonzero lists the flat indices in increasing order: channel by channel, in raster order.
  return torch::nonzero(mask.flatten()).view({channels, -1});
}

torch::Tensor LatentCoding::hyper_means(const torch::Tensor& features) const {
  return perturbed(means_->step1(features));
}

torch::Tensor LatentCoding::run_steps(const torch::Tensor& y, torch::Tensor& symbols,
                                      torch::Tensor* residual, const torch::Tensor& features,
                                      const torch::Tensor& hyper_means, const torch::Tensor& step,
                                      const Rounding& rounding) const {
  const bool encoding = y.defined();
  auto symbolize = [&](const torch::Tensor& r) {
    return rounding ? rounding(r) : torch::round(r).clamp(-kMaxSymbol, kMaxSymbol);
  };
  if (!quadtree_) {
    const torch::Tensor mask1 =
        dual_checkerboard_mask(y.defined() ? y.size(1) : symbols.size(1), features.size(2),
                               features.size(3), features.options());
    const torch::Tensor mask2 = 1.0 - mask1;
    torch::Tensor r1, r2, s1, s2;
    if (encoding) {
      r1 = (y - hyper_means) / step;
      s1 = symbolize(r1) * mask1;
    } else {
      s1 = symbols * mask1;
    }
    torch::Tensor y_hat1 = (s1 * step + hyper_means) * mask1;
    torch::Tensor mu2 = perturbed(means_->step2(features, y_hat1));
    if (encoding) {
      r2 = (y - mu2) / step;
      s2 = symbolize(r2) * mask2;
      symbols = s1 + s2;
      if (residual) *residual = r1 * mask1 + r2 * mask2;
    } else {
      s2 = symbols * mask2;
    }
    return y_hat1 + (s2 * step + mu2) * mask2;
  }

  const std::vector<torch::Tensor> feature_phases = split_phases(features);
  const std::vector<torch::Tensor> mean_phases = split_phases(hyper_means);
  const std::vector<torch::Tensor> given = encoding ? split_phases(y) : split_phases(symbols);
  std::vector<torch::Tensor> y_hats, coded, residuals;
  torch::Tensor carried;
  for (int s = 0; s < steps(); ++s) {
    torch::Tensor mu =
        s == 0
            ? mean_phases[0]
            : perturbed(means_->context_step(s, mean_phases[size_t(s)], feature_phases[size_t(s)],
                                             torch::cat(y_hats, 1), carried));
    torch::Tensor sym;
    if (encoding) {
      torch::Tensor r = (given[size_t(s)] - mu) / step;
      sym = symbolize(r);
      residuals.push_back(r);
    } else {
      sym = given[size_t(s)];
    }
    y_hats.push_back(sym * step + mu);
    coded.push_back(sym);
  }
  if (encoding) {
    symbols = merge_phases(coded);
    if (residual) *residual = merge_phases(residuals);
  }
  return merge_phases(y_hats);
}

LatentCoding::Trained LatentCoding::train(const torch::Tensor& y, const torch::Tensor& features,
                                          const torch::Tensor& base_index,
                                          const torch::Tensor& step,
                                          std::vector<ScaleNetTrainable>& contexts) const {
  Trained out;
  torch::Tensor symbols;
  out.y_hat = run_steps(y, symbols, &out.residual, features, hyper_means(features), step,
                        round_straight_through);
  if (!context_scales_) {
    out.scale_index = base_index;
    return out;
  }
  require(contexts.size() == size_t(steps() - 1), NIC_ERROR_INTERNAL,
          "latent coding: the model has no context networks");
  const std::vector<torch::Tensor> base = split_phases(base_index);
  const std::vector<torch::Tensor> coded = split_phases(symbols);
  std::vector<torch::Tensor> index = {base[0]};
  for (int s = 1; s < steps(); ++s) {
    torch::Tensor change = contexts[size_t(s - 1)]->forward(context_input(base, coded, s));
    index.push_back(torch::clamp(base[size_t(s)] + change, 0.0, kMaxScaleIndex));
  }
  out.scale_index = merge_phases(index);
  return out;
}

torch::Tensor LatentCoding::quantize(const torch::Tensor& y, const torch::Tensor& features,
                                     const torch::Tensor& hyper_means,
                                     const torch::Tensor& step) const {
  torch::Tensor symbols;
  run_steps(y, symbols, nullptr, features, hyper_means, step, {});
  return symbols;
}

LatentCoding::Relaxed LatentCoding::relaxed(const torch::Tensor& y, const torch::Tensor& features,
                                            const torch::Tensor& hyper_means,
                                            const torch::Tensor& step,
                                            const Rounding& rounding) const {
  Relaxed out;
  out.y_hat = run_steps(y, out.symbols, nullptr, features, hyper_means, step, rounding);
  return out;
}

torch::Tensor LatentCoding::reconstruct(const torch::Tensor& symbols, const torch::Tensor& features,
                                        const torch::Tensor& hyper_means,
                                        const torch::Tensor& step) const {
  torch::Tensor given = symbols;
  return run_steps(torch::Tensor(), given, nullptr, features, hyper_means, step, {});
}

torch::Tensor LatentCoding::scale_indices(int s, const torch::Tensor& base_index,
                                          const torch::Tensor& symbols,
                                          const std::vector<IntegerScaleNet>& contexts) const {
  const int64_t channels = base_index.size(1);
  if (!context_scales_) {
    const torch::Tensor positions =
        step_positions(s, channels, base_index.size(2), base_index.size(3)).to(base_index.device());
    return base_index.flatten().index_select(0, positions.flatten()).view({channels, -1});
  }
  const std::vector<torch::Tensor> base = split_phases(base_index);
  if (s == 0) return base[0].reshape({channels, -1});
  require(contexts.size() == size_t(steps() - 1), NIC_ERROR_MODEL,
          "latent coding: the model has no context networks");
  const std::vector<torch::Tensor> coded = split_phases(symbols.to(torch::kInt64));
  torch::Tensor change = contexts[size_t(s - 1)].forward(context_input(base, coded, s));
  return (base[size_t(s)] + change).clamp(0, kScaleLevels - 1).reshape({channels, -1});
}

torch::Tensor LatentCoding::scale_index_map(const torch::Tensor& base_index,
                                            const torch::Tensor& symbols,
                                            const std::vector<IntegerScaleNet>& contexts) const {
  const int64_t channels = base_index.size(1), height = base_index.size(2),
                width = base_index.size(3);
  torch::Tensor map = torch::empty_like(base_index);
  for (int s = 0; s < steps(); ++s) {
    const torch::Tensor positions =
        step_positions(s, channels, height, width).flatten().to(base_index.device());
    map.view(-1).index_copy_(0, positions,
                             scale_indices(s, base_index, symbols, contexts).flatten());
  }
  return map;
}

}  // namespace nic
