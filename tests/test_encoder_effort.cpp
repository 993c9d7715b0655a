// Encoder effort through the C API: refined frames decode with any context, refinement never
// makes a frame worse, the analysis and rate-control paths code what nic_encode_rgb codes, and
// bad efforts are refused.
#include <gtest/gtest.h>

#include <cstdio>

#include "test_helpers.h"

using namespace nic_test;

namespace {

double mse(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return sum / double(a.size());
}

TEST(EncoderEffort, OutOfRangeIsRefused) {
  for (int effort : {0, -1, NIC_EFFORT_MAX + 1}) {
    ContextHolder c(test_model_path(), 2, effort);
    EXPECT_EQ(c.status(), NIC_ERROR_INVALID_ARGUMENT) << effort;
    EXPECT_NE(std::string(nic_last_error()).find("effort"), std::string::npos);
  }
}

// With both models: a refined frame is either the effort-1 frame itself (refinement rejected) or
// better in rate or distortion, and any context decodes it.
class EffortOnModel : public ::testing::TestWithParam<const char*> {
 protected:
  std::string model() const {
    return std::string(GetParam()) == "default" ? default_model_path() : test_model_path();
  }
};

TEST_P(EffortOnModel, RefinedFramesDecodeAndAreNoWorse) {
  const uint32_t w = 96, h = 80;
  const std::vector<uint8_t> rgb = synthetic_image(w, h, 7);
  ContextHolder fast(model()), refined(model(), 2, 3);
  ASSERT_EQ(fast.status(), NIC_OK) << nic_last_error();
  ASSERT_EQ(refined.status(), NIC_OK) << nic_last_error();
  for (float qp : {4.0f, 30.0f, 60.0f}) {
    SCOPED_TRACE(qp);
    const std::vector<uint8_t> one = encode(fast.get(), rgb, w, h, qp);
    const std::vector<uint8_t> three = encode(refined.get(), rgb, w, h, qp);
    ASSERT_FALSE(one.empty() || three.empty()) << nic_last_error();
    NicFrameInfo info;
    ASSERT_EQ(nic_peek_frame(three.data(), three.size(), &info), NIC_OK);
    EXPECT_FLOAT_EQ(info.qp, qp);
    // The effort-1 context decodes the refined frame, bit for bit as the refining one does.
    const std::vector<uint8_t> out_one = decode(fast.get(), one, w, h);
    const std::vector<uint8_t> out_three = decode(fast.get(), three, w, h);
    ASSERT_FALSE(out_one.empty() || out_three.empty()) << nic_last_error();
    EXPECT_EQ(decode(refined.get(), three, w, h), out_three);
    if (three != one) {
      EXPECT_TRUE(three.size() <= one.size() || mse(rgb, out_three) < mse(rgb, out_one))
          << "refined: " << three.size() << " bytes, mse " << mse(rgb, out_three)
          << "; effort 1: " << one.size() << " bytes, mse " << mse(rgb, out_one);
    }
    std::printf("qp %4.1f: effort 1 %zu bytes, mse %.2f; effort 3 %zu bytes, mse %.2f\n", qp,
                one.size(), mse(rgb, out_one), three.size(), mse(rgb, out_three));
  }
}

INSTANTIATE_TEST_SUITE_P(Models, EffortOnModel, ::testing::Values("small", "default"));

TEST(EncoderEffort, AnalysisAndTargetSizeRefineToo) {
  const uint32_t w = 70, h = 45;
  const std::vector<uint8_t> rgb = synthetic_image(w, h, 5);
  ContextHolder c(test_model_path(), 2, 2);
  ASSERT_EQ(c.status(), NIC_OK) << nic_last_error();
  NicFrameAnalysis* analysis = nullptr;
  ASSERT_EQ(nic_analyze_rgb(c.get(), rgb.data(), w, h, size_t(w) * 3, &analysis), NIC_OK)
      << nic_last_error();
  NicBuffer buf{};
  ASSERT_EQ(nic_encode_analysis(c.get(), analysis, 21.0f, &buf), NIC_OK) << nic_last_error();
  const std::vector<uint8_t> frame(buf.data, buf.data + buf.size);
  nic_buffer_free(&buf);
  nic_frame_analysis_destroy(analysis);
  // Refinement is repeatable: the same frame as a direct encode at the same qp.
  EXPECT_EQ(frame, encode(c.get(), rgb, w, h, 21.0f));

  // Target size: the refined frame still fits.
  const size_t target = frame.size();
  float qp = -1;
  ASSERT_EQ(nic_encode_rgb_target_size(c.get(), rgb.data(), w, h, size_t(w) * 3, target, &buf, &qp),
            NIC_OK)
      << nic_last_error();
  EXPECT_LE(buf.size, target);
  EXPECT_GE(qp, NIC_QP_MIN);
  EXPECT_LE(qp, NIC_QP_MAX);
  nic_buffer_free(&buf);
}

}  // namespace
