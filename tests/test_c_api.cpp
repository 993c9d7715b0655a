// The C API end to end with the small test model: round trips at odd sizes, headers, errors,
// and a corruption suite of mutated streams.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "bitstream/crc32.h"
#include "io/safetensors.h"
#include "test_helpers.h"

using namespace nic_test;

namespace {

class CApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_FALSE(test_model_path().empty()) << "NIC_TEST_MODEL is not set";
    holder_ = new ContextHolder(test_model_path());
    ASSERT_EQ(holder_->status(), NIC_OK) << nic_last_error();
  }
  static void TearDownTestSuite() { delete holder_; }
  static NicContext* ctx() { return holder_->get(); }
  static ContextHolder* holder_;
};
ContextHolder* CApi::holder_ = nullptr;

// Decodes data; returns the status and fills rgb when it fits.
NicStatus decode_any(NicContext* ctx, const std::vector<uint8_t>& data, std::vector<uint8_t>& rgb,
                     NicFrameInfo& info) {
  NicStatus s = nic_peek_frame(data.data(), data.size(), &info);
  if (s != NIC_OK) return s;
  if (uint64_t(info.width) * info.height > 4096u * 4096u) return NIC_ERROR_CORRUPT;
  rgb.assign(size_t(info.width) * info.height * 3, 0);
  return nic_decode_rgb(ctx, data.data(), data.size(), rgb.data(), size_t(info.width) * 3,
                        rgb.size(), &info);
}

TEST_F(CApi, RoundTripAtOddSizes) {
  const std::pair<uint32_t, uint32_t> sizes[] = {{1, 1},   {17, 33}, {1000, 3}, {3, 1000},
                                                 {64, 64}, {65, 63}, {130, 70}};
  for (auto [w, h] : sizes) {
    SCOPED_TRACE(std::to_string(w) + "x" + std::to_string(h));
    const std::vector<uint8_t> rgb = synthetic_image(w, h);
    const std::vector<uint8_t> frame = encode(ctx(), rgb, w, h, 17.5f);
    ASSERT_FALSE(frame.empty()) << nic_last_error();
    NicFrameInfo info;
    ASSERT_EQ(nic_peek_frame(frame.data(), frame.size(), &info), NIC_OK) << nic_last_error();
    EXPECT_EQ(info.width, w);
    EXPECT_EQ(info.height, h);
    EXPECT_FLOAT_EQ(info.qp, 17.5f);
    EXPECT_EQ(info.frame_size, frame.size());
    std::vector<uint8_t> out(rgb.size());
    ASSERT_EQ(nic_decode_rgb(ctx(), frame.data(), frame.size(), out.data(), size_t(w) * 3,
                             out.size(), nullptr),
              NIC_OK)
        << nic_last_error();
    // Decoding is repeatable bit for bit.
    std::vector<uint8_t> again(rgb.size());
    ASSERT_EQ(nic_decode_rgb(ctx(), frame.data(), frame.size(), again.data(), size_t(w) * 3,
                             again.size(), nullptr),
              NIC_OK);
    EXPECT_EQ(out, again);
  }
}

TEST_F(CApi, DecodesIntoAStridedBuffer) {
  const uint32_t w = 40, h = 24;
  const std::vector<uint8_t> rgb = synthetic_image(w, h);
  const std::vector<uint8_t> frame = encode(ctx(), rgb, w, h, 30);
  std::vector<uint8_t> tight(rgb.size());
  ASSERT_EQ(
      nic_decode_rgb(ctx(), frame.data(), frame.size(), tight.data(), w * 3, tight.size(), nullptr),
      NIC_OK);
  const size_t stride = w * 3 + 13;
  std::vector<uint8_t> padded(stride * h, 0xAB);
  ASSERT_EQ(nic_decode_rgb(ctx(), frame.data(), frame.size(), padded.data(), stride, padded.size(),
                           nullptr),
            NIC_OK);
  for (uint32_t y = 0; y < h; ++y) {
    EXPECT_EQ(0, std::memcmp(&padded[y * stride], &tight[y * w * 3], w * 3));
    EXPECT_EQ(padded[y * stride + w * 3], 0xAB);  // the padding is untouched
  }
}

TEST_F(CApi, LongThinFramesUpTo8192) {
  for (auto [w, h] : {std::pair<uint32_t, uint32_t>{8192, 16}, {16, 8192}}) {
    const std::vector<uint8_t> rgb = synthetic_image(w, h);
    const std::vector<uint8_t> frame = encode(ctx(), rgb, w, h, 40);
    ASSERT_FALSE(frame.empty()) << nic_last_error();
    std::vector<uint8_t> out;
    NicFrameInfo info;
    ASSERT_EQ(decode_any(ctx(), frame, out, info), NIC_OK) << nic_last_error();
    EXPECT_EQ(info.width, w);
    EXPECT_EQ(info.height, h);
  }
}

TEST_F(CApi, RejectsBadArguments) {
  const std::vector<uint8_t> rgb = synthetic_image(8, 8);
  NicBuffer buf{};
  EXPECT_EQ(nic_encode_rgb(ctx(), rgb.data(), 0, 8, 24, 20, &buf), NIC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(nic_encode_rgb(ctx(), rgb.data(), 20000, 8, 60000, 20, &buf),
            NIC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(nic_encode_rgb(ctx(), rgb.data(), 8, 8, 10, 20, &buf), NIC_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(nic_last_error()).find("stride"), std::string::npos);
  EXPECT_EQ(nic_encode_rgb(ctx(), rgb.data(), 8, 8, 24, -1, &buf), NIC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(nic_encode_rgb(ctx(), rgb.data(), 8, 8, 24, 63.5f, &buf), NIC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(nic_encode_rgb(ctx(), rgb.data(), 8, 8, 24, NAN, &buf), NIC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(nic_encode_rgb(ctx(), nullptr, 8, 8, 24, 20, &buf), NIC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(buf.data, nullptr);

  const std::vector<uint8_t> frame = encode(ctx(), rgb, 8, 8, 20);
  std::vector<uint8_t> small(8 * 8 * 3 - 1);
  EXPECT_EQ(
      nic_decode_rgb(ctx(), frame.data(), frame.size(), small.data(), 24, small.size(), nullptr),
      NIC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(nic_peek_frame(nullptr, 0, nullptr), NIC_ERROR_INVALID_ARGUMENT);
}

TEST(CApiContext, ReportsModelAndDeviceProblems) {
  NicOptions o;
  nic_options_init(&o);
  NicContext* ctx = nullptr;
  o.model_path = "/nonexistent/model.safetensors";
  EXPECT_EQ(nic_context_create(&o, &ctx), NIC_ERROR_MODEL);
  EXPECT_NE(std::string(nic_last_error()).find("/nonexistent/model.safetensors"),
            std::string::npos);
  EXPECT_EQ(ctx, nullptr);

  // A truncated weights file.
  std::ifstream in(test_model_path(), std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string cut = ::testing::TempDir() + "cut.safetensors";
  std::ofstream(cut, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size() / 2));
  o.model_path = cut.c_str();
  EXPECT_EQ(nic_context_create(&o, &ctx), NIC_ERROR_MODEL);

  const std::string model = test_model_path();  // outlives every use of o.model_path
  o.model_path = model.c_str();
  // No machine has 100 GPUs; without CUDA the message names CUDA as well.
  o.device = "cuda:99";
  EXPECT_EQ(nic_context_create(&o, &ctx), NIC_ERROR_DEVICE);
  EXPECT_NE(std::string(nic_last_error()).find("CUDA"), std::string::npos);
  o.device = "tpu";
  EXPECT_EQ(nic_context_create(&o, &ctx), NIC_ERROR_INVALID_ARGUMENT);
  o.device = "cpu";
  o.threads = -3;
  EXPECT_EQ(nic_context_create(&o, &ctx), NIC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(nic_context_create(&o, nullptr), NIC_ERROR_INVALID_ARGUMENT);
}

// The integer scale networks choose the probability tables, so they must compute the same integers
// on every device; a weights file whose integer layers could not is refused when it is opened.
TEST(CApiContext, RefusesIntegerLayersOutsideTheirRange) {
  const nic::SafetensorsFile good = nic::read_safetensors(test_model_path());
  auto refused_with = [&](const std::string& key, size_t index, int32_t value) {
    nic::SafetensorsFile bad = good;
    std::vector<uint8_t>& bytes = bad.tensors.at(key).bytes;
    std::memcpy(bytes.data() + 4 * index, &value, 4);
    const std::string path = ::testing::TempDir() + "bad-integer-layer.safetensors";
    nic::write_safetensors(path, bad);
    NicOptions o;
    nic_options_init(&o);
    o.model_path = path.c_str();
    NicContext* ctx = nullptr;
    const NicStatus status = nic_context_create(&o, &ctx);
    std::remove(path.c_str());
    EXPECT_EQ(ctx, nullptr);
    if (ctx) nic_context_destroy(ctx);
    return status == NIC_ERROR_MODEL ? std::string(nic_last_error()) : std::string("accepted");
  };
  // Weights are 8-bit: 128 would not be.
  EXPECT_NE(refused_with("codec.scale_net.0.weight", 5, 128).find("8-bit range"),
            std::string::npos);
  EXPECT_NE(refused_with("codec.scale_net.1.weight", 0, -128).find("8-bit range"),
            std::string::npos);
  // A hidden layer without its clamp to [0, 255] (form: shuffle, clamp).
  EXPECT_NE(refused_with("codec.scale_net.0.form", 1, 0).find("without 8-bit activations"),
            std::string::npos);
}

// Installed models by name: the source tree's models/ is listed (a build used in place), a name
// loads the same weights as its path, and an unknown name says which names there are.
TEST(CApiContext, ModelsByName) {
  const size_t count = nic_model_count();
  std::string default_path;
  for (size_t i = 0; i < count; ++i)
    if (std::string(nic_model_name(i)) == "nic-default") default_path = nic_model_path(i);
  ASSERT_FALSE(default_path.empty()) << "nic-default is not listed";
  EXPECT_NE(default_path.find("models/nic-default.safetensors"), std::string::npos);
  EXPECT_EQ(nic_model_name(count), nullptr);
  EXPECT_EQ(nic_model_path(count), nullptr);

  NicOptions o;
  nic_options_init(&o);
  o.threads = 1;
  o.model_path = "nic-default";
  ContextHolder by_path(default_model_path(), 1);
  ASSERT_EQ(by_path.status(), NIC_OK) << nic_last_error();
  NicContext* by_name = nullptr;
  ASSERT_EQ(nic_context_create(&o, &by_name), NIC_OK) << nic_last_error();
  EXPECT_STREQ(nic_context_model_fingerprint(by_name),
               nic_context_model_fingerprint(by_path.get()));
  nic_context_destroy(by_name);

  NicContext* none = nullptr;
  o.model_path = "nic-none";
  EXPECT_EQ(nic_context_create(&o, &none), NIC_ERROR_MODEL);
  const std::string error = nic_last_error();
  EXPECT_NE(error.find("no model named 'nic-none'"), std::string::npos) << error;
  EXPECT_NE(error.find("nic-default"), std::string::npos) << error;
  EXPECT_EQ(none, nullptr);
}

// A decoder given no model finds the one a frame needs: every installed model is found by its
// fingerprint (the path of a file with the same weights), an unknown fingerprint by none.
TEST(CApiContext, FindModelByFingerprint) {
  const size_t count = nic_model_count();
  ASSERT_GE(count, 2u) << "the family ships more than one model";
  std::vector<std::string> paths;
  for (size_t i = 0; i < count; ++i) paths.push_back(nic_model_path(i));
  std::vector<std::string> fingerprints;
  for (const std::string& path : paths) {
    ContextHolder context(path.c_str(), 1);
    ASSERT_EQ(context.status(), NIC_OK) << path << ": " << nic_last_error();
    const std::string hex = nic_context_model_fingerprint(context.get());
    fingerprints.push_back(hex);
    const char* found = nic_find_model(std::stoull(hex, nullptr, 16));
    ASSERT_NE(found, nullptr) << path;
    ContextHolder found_context(found, 1);
    ASSERT_EQ(found_context.status(), NIC_OK) << found << ": " << nic_last_error();
    EXPECT_EQ(hex, nic_context_model_fingerprint(found_context.get())) << path << " -> " << found;
  }
  EXPECT_NE(fingerprints[0], fingerprints[1]);
  EXPECT_EQ(nic_find_model(0x0123456789abcdefULL), nullptr);
}

// The loaded model's size and arithmetic, as `nic models` shows them.
TEST(CApiContext, ModelComplexity) {
  ContextHolder context(default_model_path(), 1);
  ASSERT_EQ(context.status(), NIC_OK) << nic_last_error();
  NicModelComplexity c{};
  ASSERT_EQ(nic_context_model_complexity(context.get(), &c), NIC_OK) << nic_last_error();
  // The default model: about 5.7 million parameters and 45 kMAC per pixel each way.
  EXPECT_GT(c.parameters, 1000000u);
  EXPECT_LT(c.parameters, 100000000u);
  EXPECT_GT(c.encoder_kmacs_per_pixel, 10.0);
  EXPECT_LT(c.encoder_kmacs_per_pixel, 1000.0);
  EXPECT_GT(c.decoder_kmacs_per_pixel, 10.0);
  EXPECT_EQ(nic_context_model_complexity(nullptr, &c), NIC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(nic_context_model_complexity(context.get(), nullptr), NIC_ERROR_INVALID_ARGUMENT);
}

// Whether /proc/cpuinfo lists flag for the CPU.
bool cpu_has_flag(const std::string& flag) {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    for (std::string word; words >> word;)
      if (word == flag) return true;
    return false;
  }
  return false;
}

// The float networks' precision (NicOptions.precision): frames coded in float16 or bfloat16
// decode on a float32 context and the reverse, and every mix stays close to float32: within
// 0.05 dB for float16 (the bound the GPU's half precision must keep; the CPU runs float16 too),
// within 0.1 dB for bfloat16, whose 8-bit mantissa costs more as the quality rises (0.07 dB here
// with the 192-latent default model).
TEST(CApiContext, PrecisionsCodeAlike) {
  auto context = [](const char* precision, NicContext** out) {
    NicOptions o;
    nic_options_init(&o);
    o.model_path = nullptr;  // the default model: trained weights, real activations
    o.threads = 2;
    o.precision = precision;
    return nic_context_create(&o, out);
  };
  const uint32_t w = 256, h = 192;
  const std::vector<uint8_t> rgb = synthetic_image(w, h, 7);
  NicContext* f32 = nullptr;
  ASSERT_EQ(context("float32", &f32), NIC_OK) << nic_last_error();
  const std::vector<uint8_t> frame32 = encode(f32, rgb, w, h, 20);
  ASSERT_FALSE(frame32.empty()) << nic_last_error();
  const std::vector<uint8_t> decoded32 = decode(f32, frame32, w, h);
  const double reference = psnr(rgb, decoded32);
  std::vector<uint8_t> frame_bf16;
  // oneDNN's bfloat16 convolutions need one of these; elsewhere the context refuses bfloat16.
  const bool bfloat16_runs =
      (cpu_has_flag("avx512bw") && cpu_has_flag("avx512vl") && cpu_has_flag("avx512dq")) ||
      cpu_has_flag("avx_ne_convert") || cpu_has_flag("amx_bf16");
  for (const char* precision : {"float16", "bfloat16"}) {
    NicContext* low = nullptr;
    if (std::string(precision) == "bfloat16" && !bfloat16_runs) {
      EXPECT_EQ(context(precision, &low), NIC_ERROR_UNSUPPORTED);
      EXPECT_NE(std::string(nic_last_error()).find("AVX-512"), std::string::npos)
          << nic_last_error();
      EXPECT_EQ(low, nullptr);
      continue;
    }
    ASSERT_EQ(context(precision, &low), NIC_OK) << nic_last_error();
    const std::vector<uint8_t> frame = encode(low, rgb, w, h, 20);
    if (std::string(precision) == "bfloat16") frame_bf16 = frame;
    ASSERT_FALSE(frame.empty()) << precision << ": " << nic_last_error();
    const std::vector<uint8_t> by_f32 = decode(f32, frame, w, h);
    const std::vector<uint8_t> by_low = decode(low, frame32, w, h);
    ASSERT_FALSE(by_f32.empty() || by_low.empty()) << precision << ": " << nic_last_error();
    const double bound = std::string(precision) == "float16" ? 0.05 : 0.1;
    EXPECT_NEAR(psnr(rgb, by_f32), reference, bound) << precision << " encoder";
    EXPECT_NEAR(psnr(rgb, by_low), reference, bound) << precision << " decoder";
    EXPECT_NE(by_low, decoded32) << precision << " decoded exactly as float32: not applied?";
    EXPECT_NEAR(double(frame.size()), double(frame32.size()), 0.01 * double(frame32.size()));
    nic_context_destroy(low);
  }
  // "auto" on the CPU: bfloat16 where the CPU has AMX, else float32.
  NicContext* automatic = nullptr;
  ASSERT_EQ(context("auto", &automatic), NIC_OK) << nic_last_error();
  EXPECT_EQ(encode(automatic, rgb, w, h, 20), cpu_has_flag("amx_bf16") ? frame_bf16 : frame32)
      << "amx_bf16 " << (cpu_has_flag("amx_bf16") ? "present" : "absent");
  nic_context_destroy(automatic);
  NicContext* none = nullptr;
  EXPECT_EQ(context("half", &none), NIC_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(nic_last_error()).find("float16"), std::string::npos) << nic_last_error();
  EXPECT_EQ(none, nullptr);
  nic_context_destroy(f32);
}

TEST_F(CApi, PixelLimitRefusesLargerFrames) {
  const std::vector<uint8_t> rgb = synthetic_image(48, 32);
  const std::vector<uint8_t> frame = encode(ctx(), rgb, 48, 32, 20);
  ASSERT_FALSE(frame.empty()) << nic_last_error();
  const std::string model = test_model_path();
  NicOptions o;
  nic_options_init(&o);
  EXPECT_EQ(o.max_pixels, 0u);
  o.model_path = model.c_str();
  o.max_pixels = 48 * 32 - 1;
  NicContext* small = nullptr;
  ASSERT_EQ(nic_context_create(&o, &small), NIC_OK) << nic_last_error();
  std::vector<uint8_t> out(rgb.size());
  EXPECT_EQ(
      nic_decode_rgb(small, frame.data(), frame.size(), out.data(), 48 * 3, out.size(), nullptr),
      NIC_ERROR_LIMIT);
  EXPECT_NE(std::string(nic_last_error()).find("1536 pixels"), std::string::npos)
      << nic_last_error();
  NicBuffer buf{};
  EXPECT_EQ(nic_encode_rgb(small, rgb.data(), 48, 32, 48 * 3, 20, &buf), NIC_ERROR_LIMIT);
  // Exactly at the limit is fine.
  EXPECT_EQ(nic_encode_rgb(small, rgb.data(), 47, 32, 48 * 3, 20, &buf), NIC_OK)
      << nic_last_error();
  nic_buffer_free(&buf);
  nic_context_destroy(small);
  o.max_pixels = uint64_t(NIC_MAX_PIXELS) + 1;
  EXPECT_EQ(nic_context_create(&o, &small), NIC_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(nic_status_string(NIC_ERROR_LIMIT), "frame over the pixel limit");
}

// A frame that does not fit in memory fails with NIC_ERROR_OUT_OF_MEMORY (LibTorch reports a
// failed allocation as a plain c10::Error). In a child process, with a context of its own on one
// thread, whose address space is capped 64 MiB above what it uses. The frame is one tile, so
// that the allocation that fails is its first large tensor (hundreds of MB), not whichever small
// one happens to meet the cap. Not under AddressSanitizer, which needs the address space.
TEST_F(CApi, OutOfMemoryIsItsOwnStatus) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer reserves the address space the test would cap";
#else
  const uint32_t side = 4096;
  const std::vector<uint8_t> rgb = synthetic_image(side, side);
  const std::string model = test_model_path();
  for (const int memory_pool : {0, 1}) {  // LibTorch's allocator, then nic's pool
    const int status = exit_status_in_child([&] {
      NicOptions o = one_tile_options(model, uint64_t(side) * side);
      o.memory_pool = memory_pool;
      const ContextHolder one_tile(o);
      if (one_tile.status() != NIC_OK) return 3;
      if (!cap_address_space(uint64_t(64) << 20)) return 2;
      NicBuffer out{};
      const NicStatus s =
          nic_encode_rgb(one_tile.get(), rgb.data(), side, side, size_t(side) * 3, 20, &out);
      const bool message = std::strstr(nic_last_error(), "out of memory") != nullptr;
      if (s == NIC_ERROR_OUT_OF_MEMORY && message) return 0;
      std::fprintf(stderr, "status %d (%s): %s\n", int(s), nic_status_string(s), nic_last_error());
      return 1;
    });
    EXPECT_EQ(status, 0) << "memory_pool " << memory_pool
                         << ": 1: wrong status or message (above); 2: could not cap the address "
                            "space; 3: no context; above 128: killed by signal (status - 128)";
  }
#endif
}

TEST_F(CApi, ScanFrameResynchronises) {
  const std::vector<uint8_t> rgb = synthetic_image(48, 32);
  const std::vector<uint8_t> frame = encode(ctx(), rgb, 48, 32, 20);
  ASSERT_FALSE(frame.empty()) << nic_last_error();
  std::vector<uint8_t> damaged = frame;
  damaged[damaged.size() - 10] ^= 0x01;  // payload: the CRC fails
  std::vector<uint8_t> stream = {'j', 'u', 'n', 'k'};
  stream.insert(stream.end(), damaged.begin(), damaged.end());
  const size_t good_at = stream.size();
  stream.insert(stream.end(), frame.begin(), frame.end());

  NicFrameScan scan;
  ASSERT_EQ(nic_scan_frame(stream.data(), stream.size(), &scan), NIC_OK);
  EXPECT_EQ(scan.skip, good_at);
  EXPECT_EQ(scan.frame_size, frame.size());
  EXPECT_EQ(scan.info.width, 48u);
  EXPECT_EQ(
      decode(ctx(), std::vector<uint8_t>(stream.begin() + long(good_at), stream.end()), 48, 32)
          .size(),
      rgb.size());
  // Cut short: nothing complete, wait from the first candidate on.
  ASSERT_EQ(nic_scan_frame(frame.data(), frame.size() - 1, &scan), NIC_OK);
  EXPECT_EQ(scan.skip, 0u);
  EXPECT_EQ(scan.frame_size, 0u);
  EXPECT_EQ(nic_scan_frame(nullptr, 0, &scan), NIC_OK);
  EXPECT_EQ(nic_scan_frame(nullptr, 4, &scan), NIC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(nic_scan_frame(stream.data(), stream.size(), nullptr), NIC_ERROR_INVALID_ARGUMENT);
}

TEST_F(CApi, WrongModelIsReportedNotDecoded) {
  const std::string other = default_model_path();
  ASSERT_FALSE(other.empty());
  ContextHolder other_ctx(other);
  ASSERT_EQ(other_ctx.status(), NIC_OK) << nic_last_error();
  const std::vector<uint8_t> rgb = synthetic_image(32, 32);
  const std::vector<uint8_t> frame = encode(ctx(), rgb, 32, 32, 20);
  std::vector<uint8_t> out(rgb.size());
  EXPECT_EQ(nic_decode_rgb(other_ctx.get(), frame.data(), frame.size(), out.data(), 96, out.size(),
                           nullptr),
            NIC_ERROR_MODEL_MISMATCH);
  EXPECT_NE(std::string(nic_last_error()).find("encoded with model"), std::string::npos);
}

// A version-1 model (two coding steps) writes version-1 frames, which decode as before; the
// version-2 frames of the test model say so in their header. Neither decodes with the other.
TEST_F(CApi, VersionOneFramesDecodeWithAVersionOneModel) {
  const char* v1_path = std::getenv("NIC_TEST_MODEL_V1");
  ASSERT_NE(v1_path, nullptr) << "NIC_TEST_MODEL_V1 is not set";
  ContextHolder v1(v1_path);
  ASSERT_EQ(v1.status(), NIC_OK) << nic_last_error();
  const uint32_t w = 70, h = 45;
  const std::vector<uint8_t> rgb = synthetic_image(w, h, 3);
  const std::vector<uint8_t> frame1 = encode(v1.get(), rgb, w, h, 25);
  const std::vector<uint8_t> frame2 = encode(ctx(), rgb, w, h, 25);
  ASSERT_FALSE(frame1.empty() || frame2.empty()) << nic_last_error();
  NicFrameInfo info;
  ASSERT_EQ(nic_peek_frame(frame1.data(), frame1.size(), &info), NIC_OK);
  EXPECT_EQ(info.version, 1u);
  ASSERT_EQ(nic_peek_frame(frame2.data(), frame2.size(), &info), NIC_OK);
  EXPECT_EQ(info.version, 2u);
  std::vector<uint8_t> out(rgb.size()), again(rgb.size());
  ASSERT_EQ(
      nic_decode_rgb(v1.get(), frame1.data(), frame1.size(), out.data(), w * 3, out.size(), &info),
      NIC_OK)
      << nic_last_error();
  EXPECT_EQ(info.version, 1u);
  ASSERT_EQ(nic_decode_rgb(v1.get(), frame1.data(), frame1.size(), again.data(), w * 3,
                           again.size(), nullptr),
            NIC_OK);
  EXPECT_EQ(out, again);
  EXPECT_EQ(nic_decode_rgb(v1.get(), frame2.data(), frame2.size(), out.data(), w * 3, out.size(),
                           nullptr),
            NIC_ERROR_MODEL_MISMATCH);
  EXPECT_EQ(
      nic_decode_rgb(ctx(), frame1.data(), frame1.size(), out.data(), w * 3, out.size(), nullptr),
      NIC_ERROR_MODEL_MISMATCH);
}

// An analysis coded at several qps gives exactly the frames of nic_encode_rgb, which decode.
TEST_F(CApi, AnalysisCodesTheFramesOfEncodeAtEveryQp) {
  const uint32_t w = 70, h = 45;
  const std::vector<uint8_t> rgb = synthetic_image(w, h, 5);
  NicFrameAnalysis* analysis = nullptr;
  ASSERT_EQ(nic_analyze_rgb(ctx(), rgb.data(), w, h, size_t(w) * 3, &analysis), NIC_OK)
      << nic_last_error();
  for (float qp : {0.0f, 17.25f, 40.0f, 63.0f}) {
    SCOPED_TRACE(qp);
    NicBuffer buf{};
    ASSERT_EQ(nic_encode_analysis(ctx(), analysis, qp, &buf), NIC_OK) << nic_last_error();
    const std::vector<uint8_t> frame(buf.data, buf.data + buf.size);
    nic_buffer_free(&buf);
    EXPECT_EQ(frame, encode(ctx(), rgb, w, h, qp));
    NicFrameInfo info;
    std::vector<uint8_t> out(rgb.size());
    ASSERT_EQ(nic_decode_rgb(ctx(), frame.data(), frame.size(), out.data(), size_t(w) * 3,
                             out.size(), &info),
              NIC_OK);
    EXPECT_FLOAT_EQ(info.qp, qp);
  }
  NicBuffer buf{};
  EXPECT_EQ(nic_encode_analysis(ctx(), analysis, 64.0f, &buf), NIC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(buf.data, nullptr);
  nic_frame_analysis_destroy(analysis);
}

TEST_F(CApi, AnalysisRejectsBadArgumentsAndOtherContexts) {
  const std::vector<uint8_t> rgb = synthetic_image(16, 16);
  NicFrameAnalysis* analysis = nullptr;
  EXPECT_EQ(nic_analyze_rgb(ctx(), rgb.data(), 0, 16, 48, &analysis), NIC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(analysis, nullptr);
  EXPECT_EQ(nic_analyze_rgb(ctx(), nullptr, 16, 16, 48, &analysis), NIC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(nic_analyze_rgb(ctx(), rgb.data(), 16, 16, 48, nullptr), NIC_ERROR_INVALID_ARGUMENT);
  NicBuffer buf{};
  EXPECT_EQ(nic_encode_analysis(ctx(), nullptr, 20, &buf), NIC_ERROR_INVALID_ARGUMENT);

  ASSERT_EQ(nic_analyze_rgb(ctx(), rgb.data(), 16, 16, 48, &analysis), NIC_OK);
  ContextHolder other(test_model_path());
  ASSERT_EQ(other.status(), NIC_OK);
  EXPECT_EQ(nic_encode_analysis(other.get(), analysis, 20, &buf), NIC_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(nic_last_error()).find("another context"), std::string::npos);
  EXPECT_EQ(buf.data, nullptr);
  nic_frame_analysis_destroy(analysis);
  nic_frame_analysis_destroy(nullptr);
}

// Rewrites the CRC so that a mutation reaches the payload parser instead of the CRC check.
void fix_crc(std::vector<uint8_t>& frame) {
  if (frame.size() < 4) return;
  const uint32_t crc = nic::crc32(frame.data(), frame.size() - 4);
  for (int i = 0; i < 4; ++i) frame[frame.size() - 4 + i] = uint8_t(crc >> (8 * i));
}

bool crc_holds(const std::vector<uint8_t>& frame) {
  if (frame.size() < 4) return false;
  const uint32_t crc = nic::crc32(frame.data(), frame.size() - 4);
  uint32_t stored = 0;
  for (int i = 0; i < 4; ++i) stored |= uint32_t(frame[frame.size() - 4 + i]) << (8 * i);
  return crc == stored;
}

// Damaged frames: every one either decodes to a fully written picture, the same on every decode,
// or fails with a corruption status and a message. Damage that the CRC can see is always refused.
TEST_F(CApi, CorruptionSuiteNeverCrashes) {
  std::vector<std::vector<uint8_t>> originals;
  for (auto [w, h] : {std::pair<uint32_t, uint32_t>{48, 40}, {130, 66}}) {
    originals.push_back(encode(ctx(), synthetic_image(w, h, w), w, h, 10));
    ASSERT_FALSE(originals.back().empty());
  }
  std::mt19937 rng(1234);
  int errors = 0, images = 0, unchanged = 0;
  const int kMutations = 1200;
  for (int i = 0; i < kMutations; ++i) {
    const std::vector<uint8_t>& original = originals[i % originals.size()];
    std::vector<uint8_t> data = original;
    const size_t header_end = 22 + 4 * 5;
    const int kind = i % 6;
    switch (kind) {
      case 0:  // truncation
        data.resize(rng() % data.size());
        break;
      case 1:  // bit flips anywhere
        for (int k = 0, n = 1 + int(rng() % 8); k < n; ++k)
          data[rng() % data.size()] ^= uint8_t(1u << (rng() % 8));
        break;
      case 2:  // payload damage behind a valid CRC
        for (int k = 0, n = 1 + int(rng() % 4); k < n; ++k)
          data[header_end + rng() % (data.size() - header_end - 4)] ^= uint8_t(1u << (rng() % 8));
        fix_crc(data);
        break;
      case 3: {  // wrong substream lengths behind a valid CRC
        const size_t field = 22 + 4 * (rng() % 5);
        int delta = int(rng() % 8) - 4;  // -4..4 without 0
        if (delta >= 0) ++delta;
        data[field] = uint8_t(data[field] + delta);
        fix_crc(data);
        break;
      }
      case 4:  // random garbage after a valid header start
        for (size_t k = 8; k < data.size(); ++k) data[k] = uint8_t(rng());
        if (rng() % 2) fix_crc(data);
        break;
      case 5: {  // header fields (size, qp, counts) with a valid CRC
        data[6 + rng() % 16] = uint8_t(rng());
        fix_crc(data);
        break;
      }
    }
    SCOPED_TRACE("mutation " + std::to_string(i) + " (kind " + std::to_string(kind) + ")");
    if (data == original) {  // the random damage cancelled out
      ++unchanged;
      continue;
    }
    std::vector<uint8_t> out;
    NicFrameInfo info;
    const NicStatus s = decode_any(ctx(), data, out, info);
    if (kind == 0 || !crc_holds(data)) {
      EXPECT_NE(s, NIC_OK) << "damage the CRC sees was decoded";
    }
    if (s == NIC_OK) {
      ++images;
      // Every pixel written, and written the same way again: decode over the opposite fill.
      std::vector<uint8_t> again(out.size(), 0xff);
      NicFrameInfo info_again;
      ASSERT_EQ(nic_decode_rgb(ctx(), data.data(), data.size(), again.data(),
                               size_t(info.width) * 3, again.size(), &info_again),
                NIC_OK);
      EXPECT_EQ(again, out);
    } else {
      ++errors;
      EXPECT_NE(std::string(nic_last_error()), "") << "status " << s;
      EXPECT_TRUE(s == NIC_ERROR_CORRUPT || s == NIC_ERROR_TRUNCATED ||
                  s == NIC_ERROR_UNSUPPORTED || s == NIC_ERROR_MODEL_MISMATCH)
          << "unexpected status " << s << ": " << nic_last_error();
    }
  }
  EXPECT_LT(unchanged, kMutations / 100);
  EXPECT_GT(errors, kMutations / 2);  // most damage must be detected
  std::printf("corruption suite: %d errors, %d decodable images, %d mutations that cancelled out\n",
              errors, images, unchanged);
}

}  // namespace
