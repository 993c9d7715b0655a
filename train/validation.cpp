#include "validation.h"

#include <chrono>
#include <cstdio>
#include <sstream>

#include "codec/frame_codec.h"
#include "toolkit/pixel_metrics.h"
#include "toolkit/png_image.h"
#include "toolkit/tool_support.h"
#include "training_data.h"

namespace nic {

std::string validate_weights(const std::string& weights_path, const std::string& folder,
                             int anchors, int threads, const std::string& device) {
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
  line.precision(3);
  line << "  | encode " << encode_seconds / codings << " s, decode " << decode_seconds / codings
       << " s per image";
  return line.str();
}

}  // namespace nic
