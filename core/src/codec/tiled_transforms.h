// Runs the full-resolution transforms (analysis and synthesis) over a frame in tiles, so that
// their activations, which are most of a frame's memory (about 1.2 KB per pixel untiled), grow
// with the tile instead of the frame. Each tile runs with a margin of its neighbours wider than
// the transform's receptive field and keeps only its interior, so the result is the untiled one up
// to float rounding. Tiling is the coder's own choice: the bitstream does not record it, and a
// frame encoded in tiles decodes whole and the reverse.
#pragma once

#include <torch/torch.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "model/config.h"
#include "model/transforms.h"

namespace nic {

// Frames up to this many pixels (after padding) run in one piece: 1920x1088 does, 3840x2160 runs
// in four tiles.
constexpr uint64_t kDefaultTilePixels = uint64_t(1) << 21;

// A split of the latent grid (1/16 of the padded frame) into rows x columns of tiles, each at most
// max_tile_pixels full-resolution pixels, their edges on the 64-pixel padding grid.
struct TileGrid {
  std::vector<int64_t> row_edges, col_edges;  // latent coordinates, first 0, last the size
  int64_t margin = 0;                         // latent pixels each tile borrows on each side

  static TileGrid plan(const ModelConfig& config, int64_t latent_height, int64_t latent_width,
                       uint64_t max_tile_pixels);
  // The same for a frame of width x height pixels (before padding).
  static TileGrid for_frame(const ModelConfig& config, uint32_t width, uint32_t height,
                            uint64_t max_tile_pixels) {
    return plan(config, ModelConfig::padded(height) / ModelConfig::kLatentDownscale,
                ModelConfig::padded(width) / ModelConfig::kLatentDownscale, max_tile_pixels);
  }
  size_t tiles() const { return (row_edges.size() - 1) * (col_edges.size() - 1); }
  bool single() const { return tiles() == 1; }
};

// 8-bit interleaved RGB, rows stride bytes apart, replicated to the padded size at the bottom and
// right (what the encoder codes).
struct RgbSource {
  const uint8_t* rgb;
  uint32_t width, height;
  size_t stride;
};

// The padded source rows [top, bottom) x columns [left, right), as [1, 3, h, w] floats in [0, 1].
torch::Tensor rgb_region_to_tensor(const RgbSource& source, int64_t top, int64_t bottom,
                                   int64_t left, int64_t right, const torch::Device& device);

// y = g_a(padded source), tile by tile.
torch::Tensor analyze_tiled(AnalysisTransform& g_a, const RgbSource& source, const TileGrid& grid,
                            const torch::Device& device);

// g_s(y_hat) cropped to width x height, tile by tile, as 8-bit RGB written to rgb (rows stride
// bytes apart). finish maps each tile's float output (values near [0, 1]) before it is rounded.
void synthesize_tiled(SynthesisTransform& g_s, const torch::Tensor& y_hat, const TileGrid& grid,
                      uint32_t width, uint32_t height, uint8_t* rgb, size_t stride,
                      const std::function<torch::Tensor(const torch::Tensor&)>& finish);

}  // namespace nic
