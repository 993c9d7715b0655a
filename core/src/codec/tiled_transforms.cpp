#include "codec/tiled_transforms.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "model/device.h"

namespace nic {

namespace {

constexpr int64_t kLatentToPixels = ModelConfig::kLatentDownscale;
constexpr int64_t kGridLatents = ModelConfig::kPadMultiple / ModelConfig::kLatentDownscale;

// How far, in latent pixels, an output of either transform can see (model/transforms.cpp; b
// DepthConvBlocks per stage, each with one 3x3 convolution):
//  - synthesis: b blocks at 1/16, then per stage at 1/8, 1/4 and 1/2 one 3x3 convolution and b
//    blocks: b + (1 + b) * (1/2 + 1/4 + 1/8) latent pixels;
//  - analysis: (29 + 14 b) pixels (the 3x3 convolutions at every scale, strided ones included).
// One latent pixel more covers the alignment of the stride-2 and pixel-shuffle grids.
int64_t transform_reach(const ModelConfig& config) {
  const double b = config.blocks_per_stage;
  const double synthesis = b + (1.0 + b) * 0.875;
  const double analysis = (29.0 + 14.0 * b) / double(kLatentToPixels);
  return int64_t(std::ceil(std::max(synthesis, analysis))) + 1;
}

// Edges of `parts` near-equal pieces of `cells` grid cells, in latent pixels.
std::vector<int64_t> split_edges(int64_t latents, int64_t parts) {
  const int64_t cells = latents / kGridLatents;
  std::vector<int64_t> edges;
  for (int64_t i = 0; i <= parts; ++i) edges.push_back(cells * i / parts * kGridLatents);
  return edges;
}

struct Span {
  int64_t begin, end;
};

// The tile's interior and the part of it (with margin, clipped to the frame) that is run.
struct TileSpans {
  Span rows, cols, run_rows, run_cols;
};

template <class Visit>
void for_each_tile(const TileGrid& grid, int64_t latent_height, int64_t latent_width, Visit visit) {
  for (size_t r = 0; r + 1 < grid.row_edges.size(); ++r)
    for (size_t c = 0; c + 1 < grid.col_edges.size(); ++c) {
      TileSpans t;
      t.rows = {grid.row_edges[r], grid.row_edges[r + 1]};
      t.cols = {grid.col_edges[c], grid.col_edges[c + 1]};
      t.run_rows = {std::max<int64_t>(0, t.rows.begin - grid.margin),
                    std::min(latent_height, t.rows.end + grid.margin)};
      t.run_cols = {std::max<int64_t>(0, t.cols.begin - grid.margin),
                    std::min(latent_width, t.cols.end + grid.margin)};
      visit(t);
    }
}

}  // namespace

TileGrid TileGrid::plan(const ModelConfig& config, int64_t latent_height, int64_t latent_width,
                        uint64_t max_tile_pixels) {
  const int64_t cells_h = latent_height / kGridLatents, cells_w = latent_width / kGridLatents;
  const int64_t cell_pixels = int64_t(ModelConfig::kPadMultiple) * ModelConfig::kPadMultiple;
  const int64_t max_cells = std::max<int64_t>(1, int64_t(max_tile_pixels) / cell_pixels);
  // The fewest tiles whose largest fits; among equal counts, the squarest tiles (least margin).
  int64_t best_rows = cells_h, best_cols = cells_w, best_count = cells_h * cells_w + 1;
  int64_t best_perimeter = 0;
  for (int64_t rows = 1; rows <= cells_h; ++rows) {
    const int64_t tile_h = (cells_h + rows - 1) / rows;
    if (tile_h > max_cells) continue;
    const int64_t tile_w_max = max_cells / tile_h;
    const int64_t cols = (cells_w + tile_w_max - 1) / tile_w_max;
    const int64_t count = rows * cols, perimeter = tile_h + (cells_w + cols - 1) / cols;
    if (count < best_count || (count == best_count && perimeter < best_perimeter))
      best_rows = rows, best_cols = cols, best_count = count, best_perimeter = perimeter;
  }
  TileGrid grid;
  grid.row_edges = split_edges(latent_height, best_rows);
  grid.col_edges = split_edges(latent_width, best_cols);
  grid.margin = grid.single() ? 0 : transform_reach(config);
  return grid;
}

torch::Tensor rgb_region_to_tensor(const RgbSource& source, int64_t top, int64_t bottom,
                                   int64_t left, int64_t right, const torch::Device& device) {
  const int64_t h = bottom - top, w = right - left;
  torch::Tensor hwc = host_tensor({h, w, 3}, torch::kUInt8, device);
  uint8_t* out = hwc.data_ptr<uint8_t>();
  const int64_t last_col = int64_t(source.width) - 1;
  // Columns of the region inside the frame; those right of it repeat the frame's last column.
  const int64_t inside = std::clamp<int64_t>(last_col + 1 - left, 0, w);
  for (int64_t r = 0; r < h; ++r) {
    const int64_t src_row = std::min<int64_t>(top + r, int64_t(source.height) - 1);
    const uint8_t* row = source.rgb + size_t(src_row) * source.stride;
    uint8_t* dst = out + size_t(r) * size_t(w) * 3;
    if (inside > 0) std::memcpy(dst, row + size_t(left) * 3, size_t(inside) * 3);
    for (int64_t c = inside; c < w; ++c)
      std::memcpy(dst + size_t(c) * 3, row + size_t(std::min(left + c, last_col)) * 3, 3);
  }
  // Uploaded as bytes and converted on the device. The copy may run on while the caller goes on:
  // the host allocator keeps hwc's page-locked block until the transfer is done.
  return hwc.permute({2, 0, 1}).unsqueeze(0).to(device, /*non_blocking=*/true).to(torch::kFloat32) /
         255.0;
}

torch::Tensor analyze_tiled(AnalysisTransform& g_a, const RgbSource& source, const TileGrid& grid,
                            const torch::Device& device) {
  const int64_t latent_h = grid.row_edges.back(), latent_w = grid.col_edges.back();
  auto run = [&](const Span& rows, const Span& cols) {
    return g_a(rgb_region_to_tensor(source, rows.begin * kLatentToPixels,
                                    rows.end * kLatentToPixels, cols.begin * kLatentToPixels,
                                    cols.end * kLatentToPixels, device));
  };
  if (grid.single()) return run({0, latent_h}, {0, latent_w});
  torch::Tensor y;
  for_each_tile(grid, latent_h, latent_w, [&](const TileSpans& t) {
    const torch::Tensor out = run(t.run_rows, t.run_cols);
    if (!y.defined()) y = torch::empty({1, out.size(1), latent_h, latent_w}, out.options());
    y.slice(2, t.rows.begin, t.rows.end)
        .slice(3, t.cols.begin, t.cols.end)
        .copy_(out.slice(2, t.rows.begin - t.run_rows.begin, t.rows.end - t.run_rows.begin)
                   .slice(3, t.cols.begin - t.run_cols.begin, t.cols.end - t.run_cols.begin));
  });
  return y;
}

void synthesize_tiled(SynthesisTransform& g_s, const torch::Tensor& y_hat, const TileGrid& grid,
                      uint32_t width, uint32_t height, uint8_t* rgb, size_t stride,
                      const std::function<torch::Tensor(const torch::Tensor&)>& finish) {
  const int64_t latent_h = y_hat.size(2), latent_w = y_hat.size(3);
  for_each_tile(grid, latent_h, latent_w, [&](const TileSpans& t) {
    // The tile's interior within the frame, in pixels.
    const int64_t top = t.rows.begin * kLatentToPixels, left = t.cols.begin * kLatentToPixels;
    const int64_t bottom = std::min<int64_t>(t.rows.end * kLatentToPixels, height);
    const int64_t right = std::min<int64_t>(t.cols.end * kLatentToPixels, width);
    if (bottom <= top || right <= left) return;  // all padding
    const torch::Tensor x = finish(g_s(y_hat.slice(2, t.run_rows.begin, t.run_rows.end)
                                           .slice(3, t.run_cols.begin, t.run_cols.end)));
    const int64_t dy = top - t.run_rows.begin * kLatentToPixels;
    const int64_t dx = left - t.run_cols.begin * kLatentToPixels;
    const torch::Tensor pixels = to_host(
        (torch::nan_to_num(x.slice(2, dy, dy + bottom - top).slice(3, dx, dx + right - left), 0.0)
             .clamp(0.0, 1.0) *
         255.0)
            .round()
            .to(torch::kUInt8)
            .squeeze(0)
            .permute({1, 2, 0})
            .contiguous());
    const size_t row_bytes = size_t(right - left) * 3;
    for (int64_t r = 0; r < bottom - top; ++r)
      std::memcpy(rgb + size_t(top + r) * stride + size_t(left) * 3,
                  pixels.data_ptr<uint8_t>() + size_t(r) * row_bytes, row_bytes);
  });
}

}  // namespace nic
