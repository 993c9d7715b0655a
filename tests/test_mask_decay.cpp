// Mask decay (train/channel_masks.h): once the masks of the cut channels are zero, the student
// computes exactly what the masked teacher computes; the student has the student's widths and
// the arithmetic that comes with them; the L1 baseline's penalty trains the masks.
#include <gtest/gtest.h>

#include "channel_masks.h"
#include "common/error.h"
#include "model/complexity.h"
#include "small_model_config.h"

namespace {

// Masks somewhere in [0.5, 1.5], so that folding them into the weights is tested.
void randomize_masks(nic::ChannelMasksImpl& masks) {
  torch::NoGradGuard no_grad;
  for (auto& m : masks.parameters()) m.uniform_(0.5, 1.5);
}

TEST(MaskDecay, FinishedDecayCutsExactly) {
  torch::manual_seed(3);
  nic::ImageCodecModel teacher(nic_test::small_model_config());
  const nic::ModelConfig student_config =
      nic::student_config_for(teacher->config, {12, 16, 40});  // the last stage keeps its width
  nic::MaskDecayOptions options;
  options.student_widths = student_config.widths;
  options.decay_steps = 10;
  nic::ChannelMasks masks(*teacher, student_config, options);
  randomize_masks(*masks);
  EXPECT_GT(masks->statistics().largest_removed, 0.4);
  masks->decay(5);  // halfway: the cut channels are at most 0.5
  EXPECT_LE(masks->statistics().largest_removed, 0.5 + 1e-6);
  masks->decay(10);
  EXPECT_EQ(masks->statistics().largest_removed, 0.0);
  EXPECT_EQ(masks->statistics().mean_removed, 0.0);
  EXPECT_GT(masks->statistics().mean_kept, 0.0);  // the kept channels are never clamped

  torch::NoGradGuard no_grad;
  teacher->eval();
  masks->apply();
  const torch::Tensor x = torch::rand({1, 3, 64, 96});
  const torch::Tensor y = teacher->g_a(x);
  const torch::Tensor x_hat = teacher->g_s(y);

  nic::ImageCodecModel student = masks->cut();
  student->eval();
  EXPECT_EQ(student->config.widths, student_config.widths);
  EXPECT_TRUE(torch::allclose(student->g_a(x), y, 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(student->g_s(y), x_hat, 1e-4, 1e-5));
  // Everything outside the transforms is the teacher's.
  EXPECT_TRUE(torch::equal(student->q_basic_log2, teacher->q_basic_log2));
  EXPECT_TRUE(
      torch::equal(student->h_a->body->parameters()[0], teacher->h_a->body->parameters()[0]));
  EXPECT_LT(nic::macs_per_pixel(*student).total(), 0.5 * nic::macs_per_pixel(*teacher).total());
}

TEST(MaskDecay, FinishedDecayZeroesEveryCutChannel) {
  torch::manual_seed(4);
  nic::ImageCodecModel teacher(nic_test::small_model_config());
  const nic::ModelConfig student_config = nic::student_config_for(teacher->config, {12, 16, 20});
  nic::MaskDecayOptions options;
  options.student_widths = student_config.widths;
  options.decay_steps = 1;
  nic::ChannelMasks masks(*teacher, student_config, options);
  randomize_masks(*masks);
  // A finished decay zeroes exactly as many channels as the cut removes, in every space.
  masks->decay(1);
  EXPECT_EQ(masks->statistics().largest_removed, 0.0);
  int64_t zeros = 0, channels = 0;
  for (const auto& m : masks->parameters()) {
    zeros += (m == 0).sum().item<int64_t>();
    channels += m.numel();
  }
  // Per stage and transform: stream, stage hidden, and per block a DepthConv and a 4x ConvFFN.
  EXPECT_EQ(zeros, 2 * ((24 - 12) + (32 - 16) + (40 - 20)) * (2 + 2 * (1 + 4)));
  EXPECT_GT(channels, zeros);
}

TEST(MaskDecay, L1PenaltyTrainsTheMasks) {
  nic::ImageCodecModel teacher(nic_test::small_model_config());
  nic::MaskDecayOptions options;
  options.student_widths = {12, 16, 20};
  options.method = "l1";
  options.l1_strength = 0.5;
  nic::ChannelMasks masks(*teacher, nic::student_config_for(teacher->config, {12, 16, 20}),
                          options);
  const torch::Tensor penalty = masks->penalty();
  EXPECT_NEAR(penalty.item<double>(), 0.5, 1e-6);  // mean |mask| of all-ones masks, times 0.5
  penalty.backward();
  for (const auto& m : masks->parameters()) {
    ASSERT_TRUE(m.grad().defined());
    EXPECT_GT(m.grad().min().item<double>(), 0.0);
  }
  masks->decay(1000);  // no-op for l1
  EXPECT_EQ(masks->statistics().largest_removed, 1.0);
}

TEST(MaskDecay, StudentWiderThanTeacherIsRefused) {
  EXPECT_THROW(nic::student_config_for(nic_test::small_model_config(), {12, 64, 20}), nic::Error);
  nic::ImageCodecModel teacher(nic_test::small_model_config());
  nic::MaskDecayOptions options;
  options.student_widths = {12, 16, 20};
  options.method = "magic";
  EXPECT_THROW(
      nic::ChannelMasks(*teacher, nic::student_config_for(teacher->config, {12, 16, 20}), options),
      nic::Error);
}

}  // namespace
