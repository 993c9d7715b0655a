// Rate control through the C API with the shipped model: single-image target size, CBR and ABR
// streams (budgets, buffer, average), and changes mid-stream.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>

#include "test_helpers.h"
#include "toolkit/png_image.h"

using namespace nic_test;

namespace {

class RateControl : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    holder_ = new ContextHolder(default_model_path());
    ASSERT_EQ(holder_->status(), NIC_OK) << nic_last_error();
    const char* path = std::getenv("NIC_SAMPLE_IMAGE");
    photo_ = new nic::RgbImage(nic::read_png(path ? path : ""));
  }
  static void TearDownTestSuite() {
    delete holder_;
    delete photo_;
  }
  // A w x h window of the photograph at (x, y): frames of a camera pan.
  static std::vector<uint8_t> window(uint32_t x, uint32_t y, uint32_t w, uint32_t h) {
    std::vector<uint8_t> out;
    for (uint32_t r = 0; r < h; ++r) {
      const uint8_t* row = photo_->pixels.data() + (size_t(y + r) * photo_->width + x) * 3;
      out.insert(out.end(), row, row + size_t(w) * 3);
    }
    return out;
  }
  static NicContext* ctx() { return holder_->get(); }
  // Frame size at a fixed qp: the reachable range depends on the model and the content.
  static size_t size_at(const std::vector<uint8_t>& rgb, uint32_t w, uint32_t h, float qp) {
    return encode(ctx(), rgb, w, h, qp).size();
  }
  static ContextHolder* holder_;
  static nic::RgbImage* photo_;
};
ContextHolder* RateControl::holder_ = nullptr;
nic::RgbImage* RateControl::photo_ = nullptr;

struct Controller {
  explicit Controller(const NicRateControlConfig& c) {
    EXPECT_EQ(nic_rate_controller_create(&c, &rc), NIC_OK) << nic_last_error();
  }
  ~Controller() { nic_rate_controller_destroy(rc); }
  NicRateController* rc = nullptr;
};

size_t encode_controlled(NicContext* ctx, NicRateController* rc, const std::vector<uint8_t>& rgb,
                         uint32_t w, uint32_t h, float* qp) {
  NicBuffer buf{};
  EXPECT_EQ(nic_encode_rgb_controlled(ctx, rc, rgb.data(), w, h, size_t(w) * 3, &buf, qp), NIC_OK)
      << nic_last_error();
  const size_t size = buf.size;
  nic_buffer_free(&buf);
  return size;
}

TEST_F(RateControl, TargetSizeWithinThreePercent) {
  const uint32_t w = 256, h = 192;
  const std::vector<uint8_t> rgb = window(100, 80, w, h);
  const double fine = double(size_at(rgb, w, h, 5)), coarse = double(size_at(rgb, w, h, 60));
  for (double share : {0.2, 0.5, 0.8}) {
    const size_t target = size_t(coarse + share * (fine - coarse));
    NicBuffer buf{};
    float qp = -1;
    ASSERT_EQ(nic_encode_rgb_target_size(ctx(), rgb.data(), w, h, w * 3, target, &buf, &qp), NIC_OK)
        << nic_last_error();
    EXPECT_LE(buf.size, target);
    EXPECT_GE(double(buf.size), 0.97 * double(target)) << "qp " << qp;
    EXPECT_GE(qp, 0.0f);
    EXPECT_LE(qp, 63.0f);
    NicFrameInfo info;
    ASSERT_EQ(nic_peek_frame(buf.data, buf.size, &info), NIC_OK);
    EXPECT_FLOAT_EQ(info.qp, qp);  // the frame records the qp that was chosen
    nic_buffer_free(&buf);
  }
}

TEST_F(RateControl, CbrKeepsEveryFrameInItsBudgetAndTheAverageOnTarget) {
  const uint32_t w = 128, h = 128;
  // A pan that speeds up: the content changes frame to frame.
  std::vector<std::vector<uint8_t>> frames;
  for (uint32_t i = 0; i < 30; ++i) frames.push_back(window(i * i % (768 - w), 200 + 2 * i, w, h));
  // A budget that every frame can meet: between the largest frame at qp 63 and the smallest at
  // qp 0. Below or above that range the controller is pinned at the end of its qp range, and the
  // average says more about the model's range than about the controller.
  double fewest_bits_max = 0, most_bits_min = 1e30;
  for (const auto& rgb : frames) {
    fewest_bits_max = std::max(fewest_bits_max, double(size_at(rgb, w, h, 63)));
    most_bits_min = std::min(most_bits_min, double(size_at(rgb, w, h, 0)));
  }
  ASSERT_LT(fewest_bits_max, most_bits_min) << "no budget every frame can reach";
  const double per_frame = std::sqrt(fewest_bits_max * most_bits_min);

  NicRateControlConfig c;
  nic_rate_control_config_init(&c);
  c.mode = NIC_RATE_CBR;
  c.framerate = 25;
  c.bitrate = per_frame * 8 * c.framerate;
  c.buffer_seconds = 0.2;  // 5 frames' worth
  Controller controller(c);
  const double buffer = per_frame * 5;
  std::vector<size_t> sizes;
  for (size_t i = 0; i < frames.size(); ++i) {
    float qp = 0;
    sizes.push_back(encode_controlled(ctx(), controller.rc, frames[i], w, h, &qp));
    EXPECT_LE(double(sizes.back()), per_frame + buffer) << "frame " << i;
  }
  const double mean = std::accumulate(sizes.begin(), sizes.end(), 0.0) / double(sizes.size());
  EXPECT_NEAR(mean, per_frame, 0.02 * per_frame)
      << "budget " << per_frame << " B, reachable " << fewest_bits_max << " .. " << most_bits_min;
}

// Coding analysed frames (nic_encode_analysis_controlled) gives the stream of coding pixels.
TEST_F(RateControl, AnalysedFramesGiveTheSameStreamAsPixels) {
  const uint32_t w = 96, h = 96;
  for (NicRateControlMode mode : {NIC_RATE_CBR, NIC_RATE_ABR, NIC_RATE_CONSTANT_QP}) {
    SCOPED_TRACE(int(mode));
    NicRateControlConfig c;
    nic_rate_control_config_init(&c);
    c.mode = mode;
    c.qp = 33.5f;
    c.bitrate = double(size_at(window(0, 0, w, h), w, h, 30)) * 8 * c.framerate;
    Controller from_pixels(c), from_analysis(c);
    for (int i = 0; i < 8; ++i) {
      const std::vector<uint8_t> rgb = window(uint32_t(37 * i), uint32_t(20 * i), w, h);
      NicBuffer a{}, b{};
      float qp_a = -1, qp_b = -2;
      ASSERT_EQ(
          nic_encode_rgb_controlled(ctx(), from_pixels.rc, rgb.data(), w, h, w * 3, &a, &qp_a),
          NIC_OK);
      NicFrameAnalysis* analysis = nullptr;
      ASSERT_EQ(nic_analyze_rgb(ctx(), rgb.data(), w, h, w * 3, &analysis), NIC_OK);
      ASSERT_EQ(nic_encode_analysis_controlled(ctx(), from_analysis.rc, analysis, &b, &qp_b),
                NIC_OK)
          << nic_last_error();
      nic_frame_analysis_destroy(analysis);
      EXPECT_EQ(qp_a, qp_b) << "frame " << i;
      EXPECT_TRUE(a.size == b.size && std::equal(a.data, a.data + a.size, b.data)) << "frame " << i;
      nic_buffer_free(&a);
      nic_buffer_free(&b);
    }
  }
}

TEST_F(RateControl, AbrHoldsTheAverageOverTheWindow) {
  const uint32_t w = 128, h = 128;
  NicRateControlConfig c;
  nic_rate_control_config_init(&c);
  c.mode = NIC_RATE_ABR;
  c.framerate = 30;
  const std::vector<uint8_t> first = window(0, 300, w, h);
  const double per_frame = std::sqrt(double(size_at(first, w, h, 10)) * size_at(first, w, h, 50));
  c.bitrate = per_frame * 8 * c.framerate;
  c.window_frames = 10;
  Controller controller(c);
  double total = 0;
  const int frames = 30;
  for (int i = 0; i < frames; ++i) {
    const std::vector<uint8_t> rgb = window(uint32_t(20 * i) % (768 - w), 300, w, h);
    float qp = 0;
    total += double(encode_controlled(ctx(), controller.rc, rgb, w, h, &qp));
  }
  EXPECT_NEAR(total / frames, per_frame, 0.02 * per_frame);
}

TEST_F(RateControl, AbrPeakRateBucketNeverOverflows) {
  // Large enough that a flat frame costs far less than the budget (header bytes included).
  const uint32_t w = 256, h = 256;
  NicRateControlConfig c;
  nic_rate_control_config_init(&c);
  c.mode = NIC_RATE_ABR;
  c.framerate = 30;
  // The most detailed window of the photograph, at a budget well below its size at qp 0: with
  // the credit of the flat frames, the controller would give it more than the peak rate allows.
  std::vector<uint8_t> detailed;
  double finest = 0;
  for (uint32_t y = 0; y + h <= photo_->height; y += h)
    for (uint32_t x = 0; x + w <= photo_->width; x += w) {
      std::vector<uint8_t> candidate = window(x, y, w, h);
      const double size = double(size_at(candidate, w, h, 0));
      if (size > finest) finest = size, detailed = std::move(candidate);
    }
  const double per_frame = finest / 2.5;
  c.bitrate = per_frame * 8 * c.framerate;
  c.max_bitrate = 1.1 * c.bitrate;
  c.buffer_seconds = 0.05;  // 1.65 frames' worth at the peak rate
  c.window_frames = 4;
  Controller controller(c);
  // The same leaky bucket, kept by the test: it drains at the peak rate.
  const double drain = c.max_bitrate / c.framerate / 8, bucket = c.max_bitrate * 0.05 / 8;
  double fill = 0, fullest = 0;
  const std::vector<uint8_t> flat(size_t(w) * h * 3, 128);
  for (int i = 0; i < 20; ++i) {
    // Flat frames leave ABR credit that it wants to spend on the detailed frames after them;
    // the peak rate must stop that.
    const std::vector<uint8_t>& rgb = i < 8 ? flat : detailed;
    float qp = 0;
    const double size = double(encode_controlled(ctx(), controller.rc, rgb, w, h, &qp));
    fill = std::max(0.0, fill + size - drain);
    fullest = std::max(fullest, fill);
    if (qp < 63.0f) {
      EXPECT_LE(fill, bucket + 1.0) << "frame " << i << " qp " << qp;
    }
  }
  EXPECT_GT(fullest, 0.8 * bucket);  // the cap was what held the frames back
}

TEST_F(RateControl, FramesCodedOutsideTheControllerAreCounted) {
  const uint32_t w = 128, h = 96;
  const std::vector<uint8_t> rgb = window(300, 200, w, h);
  NicRateControlConfig c;
  nic_rate_control_config_init(&c);
  c.mode = NIC_RATE_CBR;
  c.framerate = 10;
  const double per_frame = double(size_at(rgb, w, h, 40));
  c.bitrate = per_frame * 8 * c.framerate;
  Controller fresh(c), borrowed(c);
  // Three frames forced to a fine qp overdraw the buffer of one stream...
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(nic_rate_controller_frame_coded(borrowed.rc, size_at(rgb, w, h, 5)), NIC_OK);
  // ...which then codes the same frame smaller than a stream without debt.
  float qp_fresh = 0, qp_borrowed = 0;
  const size_t a = encode_controlled(ctx(), fresh.rc, rgb, w, h, &qp_fresh);
  const size_t b = encode_controlled(ctx(), borrowed.rc, rgb, w, h, &qp_borrowed);
  EXPECT_LT(b, a);
  EXPECT_GT(qp_borrowed, qp_fresh);
  EXPECT_EQ(nic_rate_controller_frame_coded(nullptr, 10), NIC_ERROR_INVALID_ARGUMENT);
}

TEST_F(RateControl, ChangesApplyFromTheNextFrame) {
  const uint32_t w = 128, h = 96;
  const std::vector<uint8_t> rgb = window(300, 200, w, h);
  NicRateControlConfig c;
  nic_rate_control_config_init(&c);
  c.qp = 8;
  Controller controller(c);
  float qp = 0;
  const size_t fine = encode_controlled(ctx(), controller.rc, rgb, w, h, &qp);
  EXPECT_FLOAT_EQ(qp, 8.0f);
  c.qp = 50;
  ASSERT_EQ(nic_rate_controller_reconfigure(controller.rc, &c), NIC_OK);
  const size_t coarse = encode_controlled(ctx(), controller.rc, rgb, w, h, &qp);
  EXPECT_FLOAT_EQ(qp, 50.0f);
  EXPECT_LT(coarse, fine);
  // Switch the same stream to CBR at a small budget.
  c.mode = NIC_RATE_CBR;
  c.framerate = 10;
  const size_t budget = (size_at(rgb, w, h, 30) + size_at(rgb, w, h, 60)) / 2;
  c.bitrate = double(budget) * 8 * 10;
  c.buffer_seconds = 0;
  ASSERT_EQ(nic_rate_controller_reconfigure(controller.rc, &c), NIC_OK);
  EXPECT_LE(encode_controlled(ctx(), controller.rc, rgb, w, h, &qp), budget);
  EXPECT_GT(qp, 30.0f);
}

TEST(RateControlConfig, RejectsNonsense) {
  NicRateControlConfig c;
  nic_rate_control_config_init(&c);
  NicRateController* rc = nullptr;
  c.mode = NIC_RATE_CBR;  // no bitrate
  EXPECT_EQ(nic_rate_controller_create(&c, &rc), NIC_ERROR_INVALID_ARGUMENT);
  c.bitrate = 1e6;
  c.framerate = 0;
  EXPECT_EQ(nic_rate_controller_create(&c, &rc), NIC_ERROR_INVALID_ARGUMENT);
  c.framerate = 30;
  c.min_qp = 40;
  c.max_qp = 20;
  EXPECT_EQ(nic_rate_controller_create(&c, &rc), NIC_ERROR_INVALID_ARGUMENT);
  c.min_qp = 0;
  c.max_qp = 63;
  c.mode = static_cast<NicRateControlMode>(7);
  EXPECT_EQ(nic_rate_controller_create(&c, &rc), NIC_ERROR_INVALID_ARGUMENT);
  c.mode = NIC_RATE_ABR;
  c.max_bitrate = 0.5e6;  // peak below the average
  EXPECT_EQ(nic_rate_controller_create(&c, &rc), NIC_ERROR_INVALID_ARGUMENT);
  c.max_bitrate = -1;
  EXPECT_EQ(nic_rate_controller_create(&c, &rc), NIC_ERROR_INVALID_ARGUMENT);
  c.max_bitrate = 0;
  c.mode = NIC_RATE_CONSTANT_QP;
  c.qp = 70;
  EXPECT_EQ(nic_rate_controller_create(&c, &rc), NIC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(rc, nullptr);
}

}  // namespace
