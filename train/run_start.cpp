#include "run_start.h"

#include <cmath>

namespace nic {

std::vector<std::string> copy_weights(ImageCodecModel& from, ImageCodecModel& to) {
  torch::NoGradGuard no_grad;
  std::vector<std::string> skipped;
  auto params = from->named_parameters();
  for (auto& p : to->named_parameters()) {
    const torch::Tensor* source = params.find(p.key());
    if (!source || source->sizes() != p.value().sizes()) {
      if (p.key() != "q_anchor_log2") skipped.push_back(p.key());
      continue;
    }
    p.value().copy_(*source);
  }
  auto buffers = from->named_buffers();
  for (auto& b : to->named_buffers()) {
    const torch::Tensor* source = buffers.find(b.key());
    if (source && source->sizes() == b.value().sizes())
      b.value().copy_(*source);
    else
      skipped.push_back(b.key());
  }
  return skipped;
}

torch::Tensor anchor_steps_for(const std::vector<double>& old_lambdas,
                               const torch::Tensor& old_steps,
                               const std::vector<double>& new_lambdas) {
  std::vector<double> xs, ys;
  std::vector<int> kept(new_lambdas.size(), -1);
  for (size_t k = 0; k < new_lambdas.size(); ++k)
    for (size_t j = 0; j < old_lambdas.size(); ++j)
      if (std::abs(new_lambdas[k] / old_lambdas[j] - 1.0) < 1e-9) kept[k] = int(j);
  for (size_t j = 0; j < old_lambdas.size(); ++j) {
    xs.push_back(std::log2(old_lambdas[j]));
    ys.push_back(old_steps[int64_t(j)].item<double>());
  }
  // Least squares over all the old anchors.
  const double n = double(xs.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < xs.size(); ++i)
    sx += xs[i], sy += ys[i], sxx += xs[i] * xs[i], sxy += xs[i] * ys[i];
  const double b = (n * sxy - sx * sy) / (n * sxx - sx * sx), a = (sy - b * sx) / n;
  std::vector<float> steps(new_lambdas.size());
  for (size_t k = 0; k < new_lambdas.size(); ++k)
    steps[k] = kept[k] >= 0 ? float(ys[size_t(kept[k])]) : float(a + b * std::log2(new_lambdas[k]));
  return torch::tensor(steps);
}

}  // namespace nic
