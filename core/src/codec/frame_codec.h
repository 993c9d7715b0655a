// Encodes and decodes one frame unit with a loaded model: the core behind the C API.
// LibTorch stays behind the pimpl so that this header is cheap to include.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bitstream/frame_header.h"
#include "model/complexity.h"

namespace nic {

struct FrameCodecOptions {
  std::string model_path;  // weights file
  std::string device = "cpu";
  int threads = 0;           // 0 = leave LibTorch's setting
  int effort = 1;            // encoder effort (nic.h): above 1, latents are refined before coding
  uint64_t max_pixels = 0;   // largest frame coded (nic.h NicOptions); 0 = NIC_MAX_PIXELS
  uint64_t tile_pixels = 0;  // largest tile of the transforms (nic.h); 0 = kDefaultTilePixels
  // Arithmetic of the float networks (nic.h NicOptions.precision): "auto", "float32",
  // "float16" or "bfloat16".
  std::string precision = "auto";
};

// The result of the analysis transform and the hyperprior of one frame: everything that does
// not depend on qp. Coding it at another qp re-runs only quantization and the entropy model.
class FrameAnalysis;
class OwnDeviceStream;  // model/device.h

class FrameCodec {
 public:
  explicit FrameCodec(const FrameCodecOptions& options);  // throws Error
  ~FrameCodec();
  FrameCodec(const FrameCodec&) = delete;
  FrameCodec& operator=(const FrameCodec&) = delete;

  uint64_t model_fingerprint() const;
  // Multiply-accumulates per pixel of the loaded model (model/complexity.h) and its float
  // parameter count.
  ModelComplexity model_complexity() const;
  int64_t model_parameters() const;

  bool on_gpu() const;
  // For a thread that analyses frames while another codes (codec/stream_encoder.h): puts the
  // calling thread's GPU work on a stream of its own while the result lives.
  std::unique_ptr<OwnDeviceStream> own_device_stream() const;

  // Throws the Error encode() and analyze() would for these pixels, before any work.
  void check_frame(const uint8_t* rgb, uint32_t width, uint32_t height, size_t stride) const;

  // rgb: 8-bit interleaved RGB, rows stride bytes apart.
  std::vector<uint8_t> encode(const uint8_t* rgb, uint32_t width, uint32_t height, size_t stride,
                              float qp);
  std::shared_ptr<const FrameAnalysis> analyze(const uint8_t* rgb, uint32_t width, uint32_t height,
                                               size_t stride);
  // At effort 2 and above, the latents are refined for qp first (codec/latent_refinement.h).
  // coded_symbols, when given, receives every symbol written, in the order parse_symbols()
  // returns them: the determinism tests compare the two across devices and noise.
  std::vector<uint8_t> encode(const FrameAnalysis& analysis, float qp,
                              std::vector<int32_t>* coded_symbols = nullptr);
  // Exact size in bits the frame's symbols cost at qp (without rANS flush and header bytes), at
  // the lowest effort: rate control searches qp with it.
  double estimate_bits(const FrameAnalysis& analysis, float qp);

  // Encodes at the best-quality qp in [min_qp, max_qp] whose size is estimated at most
  // target_bytes, then makes sure the frame does not exceed max_bytes (raising qp if it must).
  struct SizedFrame {
    std::vector<uint8_t> bytes;
    float qp;
  };
  SizedFrame encode_to_size(const FrameAnalysis& analysis, double target_bytes, double max_bytes,
                            float min_qp, float max_qp);

  // Decodes the frame at the start of data into rgb; returns its header.
  FrameHeader decode(const uint8_t* data, size_t size, uint8_t* rgb, size_t stride,
                     size_t capacity);

  // Every symbol of the frame in coding order (z, then each y substream): what parsing yields.
  std::vector<int32_t> parse_symbols(const uint8_t* data, size_t size);

  // Testing the determinism invariant: adds uniform noise of this amplitude to the output of every
  // float network (a stand-in for another device's rounding). 0 turns it off.
  void set_float_perturbation(double amplitude);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nic
