// Context mixing (train/context_mixing.h): a model whose means mix their inputs first, factored
// from a trained one, computes what that one computes at full rank; below it, the factorization
// measured on the inputs errs less on them than the data-free one; what cannot be mixed is
// refused.
#include <gtest/gtest.h>

#include "common/error.h"
#include "context_mixing.h"
#include "model/complexity.h"
#include "small_model_config.h"

namespace {

// The first convolution of step s's means body on x, in the form the model has (mixed or not).
torch::Tensor first_convolution(nic::ImageCodecModelImpl& model, int s, const torch::Tensor& x) {
  auto& body = model.means->context_bodies[size_t(s - 1)];
  torch::Tensor out = body->ptr(0)->as<torch::nn::Conv2dImpl>()->forward(x);
  if (model.config.context_mean_mix > 0)
    out = body->ptr(1)->as<torch::nn::Conv2dImpl>()->forward(out);
  return out;
}

TEST(ContextMixing, FullRankComputesTheSame) {
  torch::manual_seed(3);
  nic::ImageCodecModel model(nic_test::small_model_config());
  const torch::Tensor images = torch::rand({4, 3, 128, 128});
  const std::vector<torch::Tensor> moments = nic::context_input_moments(*model, images);
  ASSERT_EQ(moments.size(), 3u);
  EXPECT_EQ(moments[2].size(0), 6 * 32);  // features, hyper means, 3 phases, carried state
  // 192 channels: at least every step's inputs (96, 160, 192), so every factorization is exact.
  nic::MixedModel mixed = nic::mix_context_inputs(*model, 192, moments);
  EXPECT_EQ(mixed.model->config.context_mean_mix, 192);
  for (double kept : mixed.kept) EXPECT_NEAR(kept, 1.0, 1e-9);

  model->eval();
  mixed.model->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor anchor = torch::tensor({0, 3}, torch::kInt64);
  const torch::Tensor x = images.slice(0, 0, 2);
  torch::manual_seed(1);
  const nic::TrainOutput before = model->forward_train(x, anchor);
  torch::manual_seed(1);
  const nic::TrainOutput after = mixed.model->forward_train(x, anchor);
  EXPECT_TRUE(torch::allclose(after.x_hat, before.x_hat, 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(after.y_bits, before.y_bits, 1e-3, 1e-2));
  EXPECT_TRUE(torch::allclose(after.z_bits, before.z_bits, 1e-4, 1e-3));
}

TEST(ContextMixing, MeasuredInputsBeatTheDataFreeFactorization) {
  torch::manual_seed(4);
  nic::ImageCodecModel model(nic_test::small_model_config());
  // Inputs that live near an 8-dimensional subspace, as correlated inputs do.
  std::vector<torch::Tensor> moments, samples;
  for (int s = 1; s <= 3; ++s) {
    const int64_t in = model->means->context_bodies[size_t(s - 1)]
                           ->ptr(0)
                           ->as<torch::nn::Conv2dImpl>()
                           ->weight.size(1);
    const torch::Tensor basis = torch::randn({in, 8});
    const torch::Tensor x = basis.matmul(torch::randn({8, 4096})) + 0.01 * torch::randn({in, 4096});
    samples.push_back(x);
    moments.push_back(x.to(torch::kDouble).matmul(x.t().to(torch::kDouble)) / 4096.0);
  }
  nic::MixedModel measured = nic::mix_context_inputs(*model, 8, moments);
  nic::MixedModel data_free = nic::mix_context_inputs(*model, 8);
  torch::NoGradGuard no_grad;
  for (int s = 1; s <= 3; ++s) {
    // The samples as a batch of 4096 single positions.
    const torch::Tensor x = samples[size_t(s - 1)].t().reshape({4096, -1, 1, 1});
    const torch::Tensor exact = first_convolution(*model, s, x);
    const double scale = (exact - exact.mean()).square().mean().item<double>();
    const double err_measured =
        (first_convolution(*measured.model, s, x) - exact).square().mean().item<double>();
    const double err_free =
        (first_convolution(*data_free.model, s, x) - exact).square().mean().item<double>();
    EXPECT_LT(err_measured, 1e-3 * scale) << "step " << s;
    EXPECT_GT(err_free, 10 * err_measured) << "step " << s;
    EXPECT_GT(measured.kept[size_t(s - 1)], 0.999);
    EXPECT_LT(data_free.kept[size_t(s - 1)], 0.9);
  }
  // The mix is cheaper per position than the 3x3 convolution over all the inputs.
  EXPECT_LT(nic::macs_per_pixel(*measured.model).entropy, nic::macs_per_pixel(*model).entropy);
}

TEST(ContextMixing, Refusals) {
  nic::ImageCodecModel model(nic_test::small_model_config());
  nic::MixedModel mixed = nic::mix_context_inputs(*model, 16);
  EXPECT_THROW(nic::mix_context_inputs(*mixed.model, 16), nic::Error);  // mixed already
  EXPECT_THROW(nic::mix_context_inputs(*model, 2), nic::Error);         // too few channels
  EXPECT_THROW(nic::mix_context_inputs(*model, 16, {torch::eye(4, torch::kDouble)}), nic::Error);
  nic::ModelConfig v1 = nic_test::small_model_config();
  v1.architecture = "nic-evc-1";
  nic::ImageCodecModel old_architecture(v1);
  EXPECT_THROW(nic::mix_context_inputs(*old_architecture, 16), nic::Error);

  // The config carries the mix, and refuses it where it cannot be.
  nic::ModelConfig c = mixed.model->config;
  EXPECT_EQ(nic::ModelConfig::from_json(c.to_json()).context_mean_mix, 16);
  EXPECT_EQ(nic::ModelConfig::from_json(nic_test::small_model_config().to_json()).context_mean_mix,
            0);
  c.context_mean_mix = 2000;
  EXPECT_THROW(nic::ModelConfig::from_json(c.to_json()), nic::Error);
  v1.context_mean_mix = 16;
  EXPECT_THROW(nic::ModelConfig::from_json(v1.to_json()), nic::Error);
}

}  // namespace
