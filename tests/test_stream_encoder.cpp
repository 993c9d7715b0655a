// The pipelined stream encoder through the C API (nic_stream_encoder_*), with the small test
// model: at delay 1 each call returns the previous frame, byte for byte the frame nic_encode_rgb
// or nic_encode_rgb_controlled gives, in order, with its user data; draining, bad frames, failures
// inside the pipeline, and the delay the encoder picks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "test_helpers.h"

using namespace nic_test;

namespace {

constexpr uint32_t kWidth = 72, kHeight = 40;

// The suite's context on the small model (null when it cannot be made: each test asserts it).
NicContext* ctx() {
  static ContextHolder holder(test_model_path());
  return holder.status() == NIC_OK ? holder.get() : nullptr;
}

struct Encoder {
  Encoder(NicContext* ctx, NicRateController* rc, int delay) {
    status = nic_stream_encoder_create(ctx, rc, delay, &encoder);
  }
  ~Encoder() { nic_stream_encoder_destroy(encoder); }
  NicStreamEncoder* encoder = nullptr;
  NicStatus status;
};

struct Output {
  NicStatus status;
  std::vector<uint8_t> bytes;  // empty: no frame came out
  NicCodedFrame coded{-1, -1};
};

// One call: sends rgb (or drains when it is null) and collects what comes out.
Output send(NicStreamEncoder* encoder, const std::vector<uint8_t>* rgb, float qp, int64_t user_data,
            uint32_t w = kWidth, uint32_t h = kHeight) {
  NicStreamFrame frame{rgb ? rgb->data() : nullptr, w, h, size_t(w) * 3, qp, user_data};
  NicBuffer buf{};
  Output out;
  out.status = nic_stream_encoder_encode(encoder, rgb ? &frame : nullptr, &buf, &out.coded);
  out.bytes.assign(buf.data, buf.data + buf.size);
  nic_buffer_free(&buf);
  return out;
}

std::vector<std::vector<uint8_t>> frames(int count) {
  std::vector<std::vector<uint8_t>> out;
  for (int i = 0; i < count; ++i) out.push_back(synthetic_image(kWidth, kHeight, uint32_t(i + 1)));
  return out;
}

TEST(StreamEncoder, DelayOneReturnsEachFrameOneCallLaterAsEncodeWould) {
  ASSERT_NE(ctx(), nullptr) << nic_last_error();
  const auto input = frames(4);
  const float qps[] = {10.0f, 33.5f, 63.0f, 0.0f};
  Encoder e(ctx(), nullptr, 1);
  ASSERT_EQ(e.status, NIC_OK) << nic_last_error();
  EXPECT_EQ(nic_stream_encoder_delay(e.encoder), 1);
  std::vector<Output> outputs;
  for (int i = 0; i < 4; ++i) outputs.push_back(send(e.encoder, &input[i], qps[i], 100 + i));
  outputs.push_back(send(e.encoder, nullptr, 0, 0));  // drains the last frame
  outputs.push_back(send(e.encoder, nullptr, 0, 0));  // nothing left
  for (const Output& o : outputs) ASSERT_EQ(o.status, NIC_OK) << nic_last_error();
  EXPECT_TRUE(outputs[0].bytes.empty());
  EXPECT_TRUE(outputs[5].bytes.empty());
  for (int i = 0; i < 4; ++i) {
    SCOPED_TRACE(i);
    const Output& o = outputs[size_t(i) + 1];
    EXPECT_EQ(o.bytes, encode(ctx(), input[i], kWidth, kHeight, qps[i]));
    EXPECT_EQ(o.coded.user_data, 100 + i);
    EXPECT_FLOAT_EQ(o.coded.qp, qps[i]);
  }
}

TEST(StreamEncoder, DelayZeroCodesEachFrameInItsOwnCall) {
  ASSERT_NE(ctx(), nullptr) << nic_last_error();
  const auto input = frames(2);
  Encoder e(ctx(), nullptr, 0);
  ASSERT_EQ(e.status, NIC_OK);
  EXPECT_EQ(nic_stream_encoder_delay(e.encoder), 0);
  for (int i = 0; i < 2; ++i) {
    const Output o = send(e.encoder, &input[i], 20.0f, i);
    ASSERT_EQ(o.status, NIC_OK);
    EXPECT_EQ(o.bytes, encode(ctx(), input[i], kWidth, kHeight, 20.0f));
    EXPECT_EQ(o.coded.user_data, i);
  }
  EXPECT_TRUE(send(e.encoder, nullptr, 0, 0).bytes.empty());
}

TEST(StreamEncoder, AutoDelayIsNoneOnTheCpu) {
  ASSERT_NE(ctx(), nullptr) << nic_last_error();
  Encoder e(ctx(), nullptr, NIC_STREAM_DELAY_AUTO);
  ASSERT_EQ(e.status, NIC_OK);
  EXPECT_EQ(nic_stream_encoder_delay(e.encoder), 0);
}

// Under the rate controller, forced frames included, the pipeline gives the stream the
// controller gives without it.
TEST(StreamEncoder, ControlledStreamIsTheSameAtEveryDelay) {
  ASSERT_NE(ctx(), nullptr) << nic_last_error();
  const auto input = frames(6);
  const size_t typical = encode(ctx(), input[0], kWidth, kHeight, 30.0f).size();
  NicRateControlConfig c;
  nic_rate_control_config_init(&c);
  c.mode = NIC_RATE_CBR;
  c.bitrate = double(typical) * 8 * c.framerate;
  // Reference: the synchronous calls, frame 3 forced to qp 5 and counted.
  NicRateController* reference_rc = nullptr;
  ASSERT_EQ(nic_rate_controller_create(&c, &reference_rc), NIC_OK);
  std::vector<std::vector<uint8_t>> expected;
  std::vector<float> expected_qp;
  for (int i = 0; i < 6; ++i) {
    NicBuffer buf{};
    float qp = 5.0f;
    if (i == 3) {
      ASSERT_EQ(nic_encode_rgb(ctx(), input[i].data(), kWidth, kHeight, kWidth * 3, qp, &buf),
                NIC_OK);
      nic_rate_controller_frame_coded(reference_rc, buf.size);
    } else {
      ASSERT_EQ(nic_encode_rgb_controlled(ctx(), reference_rc, input[i].data(), kWidth, kHeight,
                                          kWidth * 3, &buf, &qp),
                NIC_OK);
    }
    expected.emplace_back(buf.data, buf.data + buf.size);
    expected_qp.push_back(qp);
    nic_buffer_free(&buf);
  }
  nic_rate_controller_destroy(reference_rc);

  for (int delay : {0, 1}) {
    SCOPED_TRACE(delay);
    NicRateController* rc = nullptr;
    ASSERT_EQ(nic_rate_controller_create(&c, &rc), NIC_OK);
    {
      Encoder e(ctx(), rc, delay);
      ASSERT_EQ(e.status, NIC_OK);
      std::vector<Output> got;
      for (int i = 0; i < 6; ++i) {
        Output o = send(e.encoder, &input[i], i == 3 ? 5.0f : -1.0f, i);
        ASSERT_EQ(o.status, NIC_OK) << nic_last_error();
        if (!o.bytes.empty()) got.push_back(std::move(o));
      }
      Output last = send(e.encoder, nullptr, 0, 0);
      if (!last.bytes.empty()) got.push_back(std::move(last));
      ASSERT_EQ(got.size(), 6u);
      for (int i = 0; i < 6; ++i) {
        EXPECT_EQ(got[size_t(i)].coded.user_data, i);
        EXPECT_EQ(got[size_t(i)].bytes, expected[size_t(i)]) << "frame " << i;
        EXPECT_FLOAT_EQ(got[size_t(i)].coded.qp, expected_qp[size_t(i)]) << "frame " << i;
      }
    }
    nic_rate_controller_destroy(rc);
  }
}

TEST(StreamEncoder, BadFramesFailBeforeTheyEnterAndLoseNothing) {
  ASSERT_NE(ctx(), nullptr) << nic_last_error();
  const auto input = frames(2);
  Encoder e(ctx(), nullptr, 1);
  ASSERT_EQ(e.status, NIC_OK);
  ASSERT_EQ(send(e.encoder, &input[0], 12.0f, 7).status, NIC_OK);
  // Each of these is refused; the frame in the pipeline stays there.
  EXPECT_EQ(send(e.encoder, &input[1], 64.0f, 8).status, NIC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(send(e.encoder, &input[1], std::nanf(""), 8).status, NIC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(send(e.encoder, &input[1], -1.0f, 8).status, NIC_ERROR_INVALID_ARGUMENT)
      << "no rate controller to choose the qp";
  EXPECT_NE(std::string(nic_last_error()).find("rate controller"), std::string::npos);
  EXPECT_EQ(send(e.encoder, &input[1], 12.0f, 8, 0, kHeight).status, NIC_ERROR_INVALID_ARGUMENT);
  NicStreamFrame no_pixels{nullptr, kWidth, kHeight, kWidth * 3, 12.0f, 8};
  NicBuffer buf{};
  EXPECT_EQ(nic_stream_encoder_encode(e.encoder, &no_pixels, &buf, nullptr),
            NIC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(nic_stream_encoder_encode(e.encoder, nullptr, nullptr, nullptr),
            NIC_ERROR_INVALID_ARGUMENT);
  const Output drained = send(e.encoder, nullptr, 0, 0);
  ASSERT_EQ(drained.status, NIC_OK);
  EXPECT_EQ(drained.coded.user_data, 7);
  EXPECT_EQ(drained.bytes, encode(ctx(), input[0], kWidth, kHeight, 12.0f));
}

TEST(StreamEncoderArguments, RefusedAndDestroyedCleanly) {
  ContextHolder holder(test_model_path());
  ASSERT_EQ(holder.status(), NIC_OK);
  NicStreamEncoder* encoder = nullptr;
  EXPECT_EQ(nic_stream_encoder_create(holder.get(), nullptr, 2, &encoder),
            NIC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(encoder, nullptr);
  EXPECT_EQ(nic_stream_encoder_create(nullptr, nullptr, 0, &encoder), NIC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(nic_stream_encoder_create(holder.get(), nullptr, 0, nullptr),
            NIC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(nic_stream_encoder_delay(nullptr), 0);
  nic_stream_encoder_destroy(nullptr);

  // Destroying an encoder with a frame in the pipeline drops it cleanly.
  Encoder e(holder.get(), nullptr, 1);
  ASSERT_EQ(e.status, NIC_OK);
  const auto input = frames(1);
  EXPECT_EQ(send(e.encoder, &input[0], 20.0f, 1).status, NIC_OK);
}

// A frame whose analysis fails on the worker (here: out of memory under a capped address space)
// is reported by the call that would have returned it, with its status; the stream goes on.
TEST(StreamEncoderFailures, AFailedFrameIsReportedAndTheStreamGoesOn) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer reserves the address space the test would cap";
#else
  const uint32_t side = 4096;
  const std::vector<uint8_t> large = synthetic_image(side, side);
  const std::vector<uint8_t> small = synthetic_image(kWidth, kHeight);
  const std::string model = test_model_path();
  const int status = exit_status_in_child([&] {
    // One thread, and frames coded as one tile: the allocation that fails is the large frame's
    // first tensor (hundreds of MB), not whichever small one happens to meet the cap.
    const ContextHolder one_tile(one_tile_options(model, uint64_t(side) * side));
    if (one_tile.status() != NIC_OK) return 3;
    Encoder e(one_tile.get(), nullptr, 1);
    if (e.status != NIC_OK) return 3;
    // Frame 1, flushed: the worker is idle when the address space is capped, and nothing is
    // coded while it analyses the large frame.
    if (send(e.encoder, &small, 20.0f, 1).status != NIC_OK) return 4;
    const Output first = send(e.encoder, nullptr, 0, 0);
    if (first.status != NIC_OK || first.coded.user_data != 1) return 4;
    // 64 MB more: room for the copy of the large frame (48 MB), not for its analysis.
    if (!cap_address_space(uint64_t(64) << 20)) return 2;
    if (send(e.encoder, &large, 20.0f, 2, side, side).status != NIC_OK) return 5;
    const Output failed = send(e.encoder, &small, 20.0f, 3);  // would return frame 2
    const bool message = std::strstr(nic_last_error(), "out of memory") != nullptr;
    if (failed.status != NIC_ERROR_OUT_OF_MEMORY || !message || !failed.bytes.empty()) {
      std::fprintf(stderr, "frame 2: status %d: %s\n", int(failed.status), nic_last_error());
      return 6;
    }
    const Output last = send(e.encoder, nullptr, 0, 0);  // frame 3 went in all the same
    if (last.status != NIC_OK || last.coded.user_data != 3 || last.bytes != first.bytes) return 7;
    return 0;
  });
  EXPECT_EQ(status, 0) << "2: could not cap the address space; 3: no context or encoder; 4-7: the "
                          "frame that failed, or the frames around it, came out wrong (see the "
                          "test); above 128: killed by signal (status - 128)";
#endif
}

}  // namespace
