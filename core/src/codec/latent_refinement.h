// Encoder effort: per-frame refinement of the latents y (docs/design.md, "Encoder effort").
//
// The analysis transform guesses y in one pass. The decoder is fixed, so the encoder may instead
// search for the y whose coded frame has the lowest rate-distortion loss under the real synthesis
// and entropy model (Campos et al. 2019; Yang et al. 2020). The search runs gradient steps on
// lambda * 255^2 * MSE + bits per pixel, with stochastic Gumbel annealing in place of rounding:
// each residual rounds down or up at random, the nearer integer ever more likely as the
// temperature falls, relaxed so that it has a gradient. z and everything the hyperprior decides
// stay fixed; the scale indices of each iteration are those of its rounded symbols, so the
// integer context networks are respected. The result is coded like any other y, so every decoder
// decodes it.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "model/integer_scale_net.h"
#include "model/latent_coding.h"
#include "model/transforms.h"

namespace nic {

// What stays fixed while y moves.
struct LatentSearchSpace {
  const LatentCoding& coding;
  SynthesisTransform synthesis;
  const std::vector<IntegerScaleNet>& context_scales;
  torch::Tensor features, hyper_means;
  torch::Tensor step;        // [1, N, 1, 1]
  torch::Tensor base_index;  // int64 [1, N, h, w], the hyperprior's index at this qp
  double distribution_shape;
};

struct RefinementTarget {
  torch::Tensor image;    // [1, 3, H, W] in [0, 1], padded as the analysis saw it
  int64_t height, width;  // the frame inside it
  double lambda;          // on 255^2 * MSE, against bits per pixel
};

// Iterations of the search at an encoder effort (NIC_EFFORT_MIN .. NIC_EFFORT_MAX); 0 at the
// lowest effort.
int refinement_iterations(int effort);

// The refined y after `iterations` gradient steps from y (inference tensors are fine).
torch::Tensor refine_latents(const LatentSearchSpace& space, const RefinementTarget& target,
                             const torch::Tensor& y, int iterations);

}  // namespace nic
