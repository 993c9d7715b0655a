// Architecture of a nic model. Stored as JSON in the weights file's metadata, so a weights file
// describes itself and the same code builds any size.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace nic {

// Architectures: "nic-evc-1" codes y in two steps (EVC's dual checkerboard) with scales from the
// hyperprior alone (bitstream version 1); "nic-evc-2" codes y in the four phases of a 2x2
// quadtree, each step's means and scales conditioned on the steps before it (bitstream version 2).
// Quantization steps are stored (weights file) and computed (RateParameters) as integer
// exponents in 1/kStepUnitsPerOctave octave.
constexpr int kStepUnitsPerOctave = 256;

struct ModelConfig {
  std::string architecture = "nic-evc-2";
  // Channels after each stride-2 stage of the analysis (1/2, 1/4, 1/8 resolution).
  std::array<int, 3> widths = {64, 96, 128};
  int latent_channels = 128;        // y, at 1/16
  int hyper_channels = 64;          // z, at 1/64
  int blocks_per_stage = 1;         // DepthConvBlocks after each stage
  int scale_net_channels = 48;      // integer-exact scale network width
  int context_scale_channels = 32;  // width of the integer context networks (nic-evc-2)
  // nic-evc-2 only: false takes every step's scales from the hyperprior alone (for ablations).
  bool context_scales = true;
  // nic-evc-2 only: 0 (the first form) starts each later step's means with a 3x3 convolution over
  // all its inputs (3 to 6 latent-sized parts); R > 0 mixes them first to R channels with a 1x1
  // convolution, which costs far less per latent (docs/design.md, "Cost of the means").
  int context_mean_mix = 0;
  // Shape beta of the latents' distribution: a generalized Gaussian exp(-|x / alpha|^beta)
  // whose standard deviation follows the scale index; 2 is the Gaussian.
  double latent_distribution_shape = 2.0;
  // Rate anchors: the trained points qp = 0, 21, 42, 63 (lambda on 255^2 * MSE). EVC's lowest
  // lambda, 0.0022, left the low-rate end at 0.19 bpp on the validation photos; 0.001 reaches
  // lower.
  std::vector<double> anchor_lambdas = {0.027, 0.012, 0.005, 0.001};

  // True for architectures whose later coding steps take their scales from the earlier symbols.
  bool context_coding() const { return architecture == "nic-evc-2"; }
  bool has_context_scales() const { return context_coding() && context_scales; }
  // The bitstream version of the frames this model writes.
  int bitstream_version() const { return context_coding() ? 2 : 1; }

  // The transforms' strides: y is at 1/16 of the padded image, z at 1/64. Frames are padded to a
  // multiple of the coarser, so that both latents have whole sizes.
  static constexpr int kLatentDownscale = 16;
  static constexpr int kHyperDownscale = 64;
  static constexpr int kPadMultiple = kHyperDownscale;
  // A frame side as the transforms see it: rounded up to kPadMultiple.
  static constexpr int64_t padded(int64_t side) {
    return (side + kPadMultiple - 1) / kPadMultiple * kPadMultiple;
  }

  std::string to_json() const;
  static ModelConfig from_json(const std::string& text);  // throws Error(NIC_ERROR_MODEL)
};

}  // namespace nic
