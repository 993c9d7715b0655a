// Fuzz target: the whole decode path through the C API with a small model (NIC_FUZZ_MODEL, else
// NIC_TEST_MODEL). So that mutations reach the payload instead of stopping at the model check or
// the CRC, the harness writes the loaded model's fingerprint into the header and recomputes the
// CRC; the CRC check itself is fuzzed by fuzz_frame_parse. Frames are held to 64x64 pixels
// (max_pixels) to keep each input fast; larger claims must fail with NIC_ERROR_LIMIT.
#include <nic/nic.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "bitstream/crc32.h"
#include "bitstream/frame_header.h"

namespace {

constexpr uint64_t kMaxPixels = 64 * 64;

NicContext* context() {
  static NicContext* ctx = [] {
    const char* path = std::getenv("NIC_FUZZ_MODEL");
    if (!path) path = std::getenv("NIC_TEST_MODEL");
    if (!path) {
      std::fprintf(stderr, "fuzz_decode: set NIC_FUZZ_MODEL to a small model\n");
      std::exit(2);
    }
    NicOptions options;
    nic_options_init(&options);
    options.model_path = path;
    options.threads = 1;
    options.max_pixels = kMaxPixels;
    NicContext* c = nullptr;
    if (nic_context_create(&options, &c) != NIC_OK) {
      std::fprintf(stderr, "fuzz_decode: %s\n", nic_last_error());
      std::exit(2);
    }
    return c;
  }();
  return ctx;
}

uint64_t fingerprint(NicContext* ctx) {
  return std::strtoull(nic_context_model_fingerprint(ctx), nullptr, 16);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  NicContext* ctx = context();
  std::vector<uint8_t> frame(data, data + size);
  constexpr size_t kFingerprintAt = 11;
  if (frame.size() >= nic::kFrameFixedHeaderSize + nic::kFrameCrcSize) {
    const uint64_t fp = fingerprint(ctx);
    for (int i = 0; i < 8; ++i) frame[kFingerprintAt + i] = uint8_t(fp >> (8 * i));
    // The CRC goes where the header says the frame ends, when that lies inside the input.
    NicFrameInfo claimed;
    size_t end = frame.size();
    if (nic_peek_frame(frame.data(), frame.size(), &claimed) == NIC_OK) end = claimed.frame_size;
    const uint32_t crc = nic::crc32(frame.data(), end - nic::kFrameCrcSize);
    for (int i = 0; i < 4; ++i) frame[end - nic::kFrameCrcSize + i] = uint8_t(crc >> (8 * i));
  }
  NicFrameInfo info;
  if (nic_peek_frame(frame.data(), frame.size(), &info) != NIC_OK) return 0;
  const uint64_t pixels = uint64_t(info.width) * info.height;
  // Within the limit the decoder gets a buffer of the right size; beyond it, a 1-pixel buffer
  // that it must refuse before touching (NIC_ERROR_LIMIT).
  std::vector<uint8_t> rgb(pixels <= kMaxPixels ? size_t(pixels) * 3 : 3);
  const NicStatus s = nic_decode_rgb(ctx, frame.data(), frame.size(), rgb.data(),
                                     size_t(info.width) * 3, rgb.size(), nullptr);
  if (pixels > kMaxPixels && s != NIC_ERROR_LIMIT) std::abort();
  return 0;
}
