#include "model/entropy_model.h"

#include <cmath>

namespace nic {

namespace {
// Density network shape of the factorized prior: 1 -> 3 -> 3 -> 3 -> 1.
const int kFilterDims[] = {1, 3, 3, 3, 1};
constexpr int kDensityLayers = 4;
constexpr double kInitScale = 10.0;
constexpr double kMinLikelihood = 1e-9;
constexpr int kTableSearchRange = 256;
constexpr double kTableTailMass = 1e-6;
}  // namespace

FactorizedPriorImpl::FactorizedPriorImpl(int channels_) : channels(channels_) {
  const double scale = std::pow(kInitScale, 1.0 / (kDensityLayers + 1));
  for (int i = 0; i < kDensityLayers; ++i) {
    const int in = kFilterDims[i], out = kFilterDims[i + 1];
    const double init = std::log(std::expm1(1.0 / scale / out));
    matrices.push_back(
        register_parameter("matrix" + std::to_string(i), torch::full({channels, out, in}, init)));
    biases.push_back(
        register_parameter("bias" + std::to_string(i), torch::rand({channels, out, 1}) - 0.5));
    if (i < kDensityLayers - 1) {
      factors.push_back(
          register_parameter("factor" + std::to_string(i), torch::zeros({channels, out, 1})));
    }
  }
}

torch::Tensor FactorizedPriorImpl::logits_cumulative(const torch::Tensor& x) {
  torch::Tensor logits = x;
  for (int i = 0; i < kDensityLayers; ++i) {
    logits = torch::matmul(torch::softplus(matrices[i]), logits) + biases[i];
    if (i < kDensityLayers - 1) logits = logits + torch::tanh(factors[i]) * torch::tanh(logits);
  }
  return logits;
}

torch::Tensor FactorizedPriorImpl::likelihood(const torch::Tensor& z_tilde) {
  // [B, C, H, W] -> [C, 1, B*H*W]
  torch::Tensor x = z_tilde.transpose(0, 1).reshape({channels, 1, -1});
  torch::Tensor lower = logits_cumulative(x - 0.5);
  torch::Tensor upper = logits_cumulative(x + 0.5);
  // Evaluate on the side of the median where the sigmoid is not saturated.
  torch::Tensor sign = -torch::sign(lower + upper).detach();
  torch::Tensor lik = torch::abs(torch::sigmoid(sign * upper) - torch::sigmoid(sign * lower));
  const int64_t b = z_tilde.size(0), h = z_tilde.size(2), w = z_tilde.size(3);
  return lik.reshape({channels, b, h, w}).transpose(0, 1).clamp_min(kMinLikelihood);
}

std::vector<CdfTable> FactorizedPriorImpl::make_tables() {
  torch::NoGradGuard no_grad;
  const int64_t n = 2 * kTableSearchRange + 2;
  // Cumulative at k - 0.5 for k = -R .. R+1, per channel (in float64 on the CPU).
  torch::Tensor points =
      torch::arange(-kTableSearchRange, kTableSearchRange + 2, torch::kFloat64) - 0.5;
  std::vector<torch::Tensor> saved_m, saved_b, saved_f;
  torch::Tensor logits = points.view({1, 1, n}).expand({channels, 1, n});
  for (int i = 0; i < kDensityLayers; ++i) {
    torch::Tensor m = matrices[i].detach().to(torch::kCPU, torch::kFloat64);
    torch::Tensor bias = biases[i].detach().to(torch::kCPU, torch::kFloat64);
    logits = torch::matmul(torch::softplus(m), logits) + bias;
    if (i < kDensityLayers - 1) {
      torch::Tensor f = factors[i].detach().to(torch::kCPU, torch::kFloat64);
      logits = logits + torch::tanh(f) * torch::tanh(logits);
    }
  }
  torch::Tensor cdf = torch::sigmoid(logits).reshape({channels, n}).contiguous();
  std::vector<CdfTable> tables;
  const double* c = cdf.data_ptr<double>();
  for (int ch = 0; ch < channels; ++ch) {
    const double* row = c + ch * n;  // row[i] = P(z < i - R - 0.5)
    int lo = 0, hi = n - 2;          // symbol index i <-> value i - R
    while (lo < hi && row[lo + 1] < kTableTailMass) ++lo;
    while (hi > lo && row[hi] > 1.0 - kTableTailMass) --hi;
    std::vector<double> pmf;
    for (int i = lo; i <= hi; ++i) pmf.push_back(std::max(row[i + 1] - row[i], 0.0));
    const double tail = row[lo] + (1.0 - row[hi + 1]);
    tables.push_back(make_cdf_table(lo - kTableSearchRange, pmf, std::max(tail, kTableTailMass)));
  }
  return tables;
}

torch::Tensor gaussian_likelihood(const torch::Tensor& s, const torch::Tensor& sigma) {
  const double inv_sqrt2 = 1.0 / std::sqrt(2.0);
  torch::Tensor v = s.abs();
  // Upper tail form for precision: Phi((0.5 - v)/sigma) - Phi((-0.5 - v)/sigma).
  torch::Tensor upper = 0.5 * torch::erfc(-(0.5 - v) / sigma * inv_sqrt2);
  torch::Tensor lower = 0.5 * torch::erfc(-(-0.5 - v) / sigma * inv_sqrt2);
  return (upper - lower).clamp_min(kMinLikelihood);
}

namespace {

// alpha / sigma of a generalized Gaussian of shape beta: sqrt(Gamma(1/b) / Gamma(3/b)).
double gg_alpha_per_sigma(double beta) {
  return std::sqrt(std::tgamma(1.0 / beta) / std::tgamma(3.0 / beta));
}

// Mass of the unit bin around v >= 0 under a zero-mean generalized Gaussian: with
// Q = igammac(1/beta, (|x| / alpha)^beta), the mass beyond |x| on one side is Q / 2. Written with
// the upper tail for precision far from zero.
// The inner bin edge |v - 0.5| is kept off zero: there igammac's derivative is infinite and the
// power's is zero, and their product, NaN, would poison a training step (a noisy latent lands
// exactly on 0.5 every few thousand steps). Off zero the edge's mass is unchanged to 1e-12.
torch::Tensor gg_bin_mass(const torch::Tensor& v, const torch::Tensor& alpha, double beta) {
  const torch::Tensor shape = torch::full_like(v, 1.0 / beta);
  torch::Tensor q_lo =
      torch::igammac(shape, torch::pow(((v - 0.5).abs() / alpha).clamp_min(1e-12), beta));
  torch::Tensor q_hi = torch::igammac(shape, torch::pow((v + 0.5) / alpha, beta));
  return torch::where(v >= 0.5, 0.5 * (q_lo - q_hi), 1.0 - 0.5 * (q_lo + q_hi));
}

}  // namespace

torch::Tensor latent_likelihood(const torch::Tensor& s, const torch::Tensor& sigma, double beta) {
  if (beta == 2.0) return gaussian_likelihood(s, sigma);
  return gg_bin_mass(s.abs(), sigma * gg_alpha_per_sigma(beta), beta).clamp_min(kMinLikelihood);
}

std::vector<CdfTable> make_latent_tables(double beta) {
  if (beta == 2.0) return make_gaussian_tables(nic_sigma_ladder());
  torch::NoGradGuard no_grad;
  constexpr double kTailMass = 1e-9;
  std::vector<CdfTable> tables;
  for (double sigma : nic_sigma_ladder()) {
    torch::Tensor alpha = torch::tensor(sigma * gg_alpha_per_sigma(beta), torch::kFloat64);
    // Values 0 .. kMaxGaussianRadius, mirrored; the radius is where both tails hold kTailMass.
    torch::Tensor v = torch::arange(0, kMaxGaussianRadius + 1, torch::kFloat64);
    torch::Tensor mass = gg_bin_mass(v, alpha, beta);
    torch::Tensor beyond =
        torch::igammac(torch::full_like(v, 1.0 / beta), torch::pow((v + 0.5) / alpha, beta));
    const double* b = beyond.data_ptr<double>();
    int32_t radius = 1;
    while (radius < kMaxGaussianRadius && b[radius] > kTailMass) ++radius;
    const double* m = mass.data_ptr<double>();
    std::vector<double> pmf;
    for (int32_t k = -radius; k <= radius; ++k) pmf.push_back(m[std::abs(k)]);
    tables.push_back(make_cdf_table(-radius, pmf, std::max(b[radius], 1e-12)));
  }
  return tables;
}

torch::Tensor sigma_from_scale_index(const torch::Tensor& index) {
  return torch::exp2(double(kScaleLadderLowestLog2) + index / double(kScaleIndexStepsPerOctave));
}

torch::Tensor bits_per_item(const torch::Tensor& likelihood) {
  return -torch::log2(likelihood).flatten(1).sum(1);
}

}  // namespace nic
