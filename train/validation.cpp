#include "validation.h"

#include <chrono>
#include <cstdio>
#include <sstream>

#include "codec/frame_codec.h"
#include "codec/tiled_transforms.h"
#include "model/device.h"
#include "model/intra_op_threads.h"
#include "model/weights.h"
#include "toolkit/pixel_metrics.h"
#include "toolkit/png_image.h"
#include "toolkit/tool_support.h"
#include "training_data.h"

namespace nic {

namespace {

// PSNR of g_s(g_a(x)) with y not quantized at all: the transforms' own ceiling, which no rate
// anchor can pass. When the top anchor's PSNR sits close under it, more bits cannot buy quality;
// only the transforms can (bigger, or trained longer).
double unquantized_psnr(CodecWeights& weights, const RgbImage& img, const torch::Device& device) {
  torch::NoGradGuard no_grad;
  const RgbSource source{img.pixels.data(), uint32_t(img.width), uint32_t(img.height),
                         size_t(img.width) * 3};
  const TileGrid grid =
      TileGrid::for_frame(weights.config, img.width, img.height, kDefaultTilePixels);
  const torch::Tensor y = analyze_tiled(weights.model->g_a, source, grid, device);
  std::vector<uint8_t> out(img.pixels.size());
  synthesize_tiled(weights.model->g_s, y, grid, img.width, img.height, out.data(), source.stride,
                   [](const torch::Tensor& x) { return x; });
  return psnr_8bit(img.pixels.data(), out.data(), out.size());
}

}  // namespace

std::string validate_weights(const std::string& weights_path, const std::string& folder,
                             int threads, const std::string& device) {
  using Clock = std::chrono::steady_clock;
  FrameCodecOptions options;
  options.model_path = weights_path;
  options.device = device;
  options.threads = threads;
  // float32 everywhere, so that validations compare across machines and runs ("auto" would take
  // bfloat16 on a CPU with AMX).
  options.precision = "float32";
  FrameCodec codec(options);
  const std::vector<std::string> paths = tools::list_png_files(folder);
  std::vector<RgbImage> images;
  for (const std::string& p : paths) images.push_back(read_png(p));

  const torch::Device dev = parse_device(device);
  CodecWeights weights = load_weights(weights_path, dev);
  const int anchors = int(weights.anchor_units.size());
  double unquantized_psnr_sum = 0;
  {
    IntraOpThreads scope(threads);
    for (const RgbImage& img : images) unquantized_psnr_sum += unquantized_psnr(weights, img, dev);
  }

  std::ostringstream line;
  line.setf(std::ios::fixed);
  line << "validation (" << images.size() << " images, real coding):";
  double encode_seconds = 0, decode_seconds = 0;
  int codings = 0;
  for (int k = 0; k < anchors; ++k) {
    const float qp = 63.0f * k / (anchors - 1);
    double bpp = 0, psnr = 0;
    for (const RgbImage& img : images) {
      const size_t stride = size_t(img.width) * 3;
      auto t0 = Clock::now();
      std::vector<uint8_t> frame =
          codec.encode(img.pixels.data(), img.width, img.height, stride, qp);
      auto t1 = Clock::now();
      std::vector<uint8_t> out(img.pixels.size());
      codec.decode(frame.data(), frame.size(), out.data(), stride, out.size());
      auto t2 = Clock::now();
      encode_seconds += std::chrono::duration<double>(t1 - t0).count();
      decode_seconds += std::chrono::duration<double>(t2 - t1).count();
      ++codings;
      const double pixels = double(img.width) * img.height;
      bpp += frame.size() * 8.0 / pixels;
      psnr += psnr_8bit(img.pixels.data(), out.data(), out.size());
    }
    line.precision(1);
    line << "  qp " << qp;
    line.precision(4);
    line << " bpp " << bpp / images.size();
    line.precision(2);
    line << " psnr " << psnr / images.size();
  }
  line.precision(2);
  line << "  | unquantized psnr " << unquantized_psnr_sum / images.size();
  line.precision(3);
  line << "  | encode " << encode_seconds / codings << " s, decode " << decode_seconds / codings
       << " s per image";
  return line.str();
}

}  // namespace nic
