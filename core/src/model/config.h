// Architecture of a nic model. Stored as JSON in the weights file's metadata, so a weights file
// describes itself and the same code builds any size.
#pragma once

#include <array>
#include <string>
#include <vector>

namespace nic {

struct ModelConfig {
  std::string architecture = "nic-evc-1";
  // Channels after each stride-2 stage of the analysis (1/2, 1/4, 1/8 resolution).
  std::array<int, 3> widths = {64, 96, 128};
  int latent_channels = 128;       // y, at 1/16
  int hyper_channels = 64;         // z, at 1/64
  int blocks_per_stage = 1;        // DepthConvBlocks after each stage
  int scale_net_channels = 48;     // integer-exact scale network width
  // Rate anchors: the trained points qp = 0, 21, 42, 63 (lambda on 255^2 * MSE). EVC's lowest
  // lambda, 0.0022, left the low-rate end at 0.19 bpp on the validation photos; 0.001 reaches lower.
  std::vector<double> anchor_lambdas = {0.027, 0.012, 0.005, 0.001};

  // Spatial size the input is padded to a multiple of (z is at 1/64).
  static constexpr int kPadMultiple = 64;

  std::string to_json() const;
  static ModelConfig from_json(const std::string& text);  // throws Error(NIC_ERROR_MODEL)
};

}  // namespace nic
