// The coding steps of the latent y: the one definition of which latents each step codes, in what
// order, and how each step's symbols, means and scale indices follow from the steps before it.
// Used by nic-train (train) and by the codec (quantize, scale_indices, reconstruct), so that what
// is trained is what is coded.
//
//  - nic-evc-1 (bitstream version 1): two steps on EVC's dual checkerboard: step 1 codes the
//    first half of the channels where row + column is even and the second half where it is odd;
//    step 2 the rest. Every scale index comes from the hyperprior.
//  - nic-evc-2 (bitstream version 2): four steps, the phases (0,0), (1,1), (0,1), (1,0) of a 2x2
//    quadtree, all channels at once. The means of step s see every latent decoded before it;
//    the scale index of step s >= 2 comes from an integer-exact context network that sees the
//    hyperprior's index and the integer symbols of the earlier steps, so parsing stays exact on
//    every device (docs/bitstream.md).
//
// Within a step the channels are split into kChannelGroups groups, each its own substream, so
// that a step parses in parallel.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <vector>

#include "model/config.h"
#include "model/integer_scale_net.h"
#include "model/transforms.h"

namespace nic {

class LatentCoding {
 public:
  static constexpr int kChannelGroups = 2;

  // Stand-in for another device's float rounding, applied to every float network's output
  // (the determinism tests); identity when empty.
  using Perturb = std::function<torch::Tensor(const torch::Tensor&)>;
  // A differentiable stand-in for rounding the symbol-domain residuals (y - mu) / step.
  using Rounding = std::function<torch::Tensor(const torch::Tensor&)>;

  LatentCoding(const ModelConfig& config, MeanPredictor means, Perturb perturb = {});

  int steps() const { return quadtree_ ? 4 : 2; }
  int substreams() const { return 1 + steps() * kChannelGroups; }  // z first

  // Flat indices into [C, h, w] of the latents of step s in coding order: int64 [C, m], channel
  // by channel, each channel's positions row by row, left to right.
  torch::Tensor step_positions(int s, int64_t channels, int64_t height, int64_t width) const;

  // The means of the first step, from the hyper features alone; the other modes take them as
  // an argument so that an encoder coding one frame at several qps computes them once.
  torch::Tensor hyper_means(const torch::Tensor& features) const;

  struct Trained {
    torch::Tensor y_hat;        // reconstruction, straight-through rounding
    torch::Tensor residual;     // (y - mu) / step before rounding: the symbol domain
    torch::Tensor scale_index;  // table index of every latent (float, straight-through)
  };
  // Training: y [B, N, h, w]; base_index: the hyperprior's scale index after the step
  // (straight-through rounded and clamped); step [B, N, 1, 1]; contexts: the trainable context
  // networks (nic-evc-2; empty for nic-evc-1).
  Trained train(const torch::Tensor& y, const torch::Tensor& features,
                const torch::Tensor& base_index, const torch::Tensor& step,
                std::vector<ScaleNetTrainable>& contexts) const;

  struct Relaxed {
    torch::Tensor y_hat;    // reconstruction from the relaxed symbols
    torch::Tensor symbols;  // relaxed symbols [B, N, h, w]
  };
  // Encoder search (latent refinement): the steps with `rounding` in place of hard rounding,
  // differentiable in y.
  Relaxed relaxed(const torch::Tensor& y, const torch::Tensor& features,
                  const torch::Tensor& hyper_means, const torch::Tensor& step,
                  const Rounding& rounding) const;

  // Encoder: the symbols of y (integer-valued float [1, N, h, w]), step by step.
  torch::Tensor quantize(const torch::Tensor& y, const torch::Tensor& features,
                         const torch::Tensor& hyper_means, const torch::Tensor& step) const;

  // Decoder: y_hat from every symbol.
  torch::Tensor reconstruct(const torch::Tensor& symbols, const torch::Tensor& features,
                            const torch::Tensor& hyper_means, const torch::Tensor& step) const;

  // Parsing, integer-exact: the table index of every latent of step s (int64 [N, m], the order
  // of step_positions), from the hyperprior's indices (int64 [1, N, h, w], clamped) and the
  // symbols of the earlier steps (any integer tensor [1, N, h, w]; other positions are not read).
  torch::Tensor scale_indices(int s, const torch::Tensor& base_index, const torch::Tensor& symbols,
                              const std::vector<IntegerScaleNet>& contexts) const;
  // The same for every step at once, in place: int64 [1, N, h, w], from all the symbols.
  torch::Tensor scale_index_map(const torch::Tensor& base_index, const torch::Tensor& symbols,
                                const std::vector<IntegerScaleNet>& contexts) const;

  // Symbols beyond this magnitude never come from a real image: the encoder saturates, the
  // decoder reports corruption.
  static constexpr int32_t kMaxSymbol = 1 << 20;

 private:
  // One pass over the steps. With y defined, symbols are computed (by `rounding`, or hard and
  // saturated when it is empty) and returned through `symbols`; otherwise `symbols` is read.
  // Returns y_hat; sets residual when y is defined.
  torch::Tensor run_steps(const torch::Tensor& y, torch::Tensor& symbols, torch::Tensor* residual,
                          const torch::Tensor& features, const torch::Tensor& hyper_means,
                          const torch::Tensor& step, const Rounding& rounding) const;
  torch::Tensor perturbed(const torch::Tensor& t) const { return perturb_ ? perturb_(t) : t; }

  bool quadtree_;
  bool context_scales_;          // later steps' scales from the earlier symbols
  mutable MeanPredictor means_;  // torch modules have no const forward
  Perturb perturb_;
};

// nic-evc-1's step-1 mask: 1 where a latent is coded in step 1. Float [1, C, h, w].
torch::Tensor dual_checkerboard_mask(int64_t channels, int64_t h, int64_t w,
                                     const torch::TensorOptions& opts);

// The trainable context networks of a nic-evc-2 model (steps 2..4), input: the hyperprior's
// index at the step's phase and the magnitudes of the earlier phases' symbols.
std::vector<ScaleNetTrainable> make_context_scale_nets(const ModelConfig& config);

// Rounding with an identity gradient.
torch::Tensor round_straight_through(const torch::Tensor& x);

}  // namespace nic
