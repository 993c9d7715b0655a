// Probability models of the latents: the factorized prior of z (learned per-channel density,
// Ballé et al. 2018) and the discretized Gaussian of y. Training uses their differentiable
// likelihoods; coding uses the integer CDF tables made from them once, at export, and stored in
// the weights file.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "entropy/cdf_table.h"

namespace nic {

struct FactorizedPriorImpl : torch::nn::Module {
  explicit FactorizedPriorImpl(int channels);
  // Probability of each element of z_tilde ([B, C, H, W]) under its channel's density, on the
  // unit bin around it.
  torch::Tensor likelihood(const torch::Tensor& z_tilde);
  // One CDF table per channel.
  std::vector<CdfTable> make_tables();

  int channels;
  std::vector<torch::Tensor> matrices, biases, factors;

 private:
  torch::Tensor logits_cumulative(const torch::Tensor& x);  // x: [C, 1, M]
};
TORCH_MODULE(FactorizedPrior);

// Likelihood of symbol-domain values s (already mean-removed and divided by the step) under a
// zero-mean Gaussian of standard deviation sigma, on the unit bin around s.
torch::Tensor gaussian_likelihood(const torch::Tensor& s, const torch::Tensor& sigma);

// The same for a zero-mean generalized Gaussian of shape beta and standard deviation sigma
// (beta = 2: gaussian_likelihood).
torch::Tensor latent_likelihood(const torch::Tensor& s, const torch::Tensor& sigma, double beta);

// The coding tables of y, one per scale index (standard deviation on the codec's ladder), for
// the distribution of shape beta. Built once at export and stored in the weights file.
std::vector<CdfTable> make_latent_tables(double beta);

// Scale index -> sigma, following the table ladder (differentiable in the index).
torch::Tensor sigma_from_scale_index(const torch::Tensor& index);

// -log2 of likelihoods, summed per batch item: [B].
torch::Tensor bits_per_item(const torch::Tensor& likelihood);

}  // namespace nic
