// Widening (train/widening.h): a model widened in its transforms or in its latents reconstructs
// what the trained one reconstructed, and every network the old latents pass (transforms,
// hyperprior, the means of every coding step, the integer scale networks, float and exported)
// computes the same for them; the new latents are the promised copies.
#include <gtest/gtest.h>

#include <cmath>

#include "common/error.h"
#include "model/complexity.h"
#include "small_model_config.h"
#include "widening.h"

namespace {

// t [B, parts * n, H, W] with each n-channel part widened to m channels, the new ones random.
torch::Tensor widen_parts(const torch::Tensor& t, int64_t n, int64_t m) {
  std::vector<torch::Tensor> parts;
  for (int64_t p = 0; p < t.size(1) / n; ++p) {
    torch::Tensor part = t.slice(1, p * n, (p + 1) * n);
    std::vector<int64_t> extra = part.sizes().vec();
    extra[1] = m - n;
    parts.push_back(torch::cat({part, torch::randint(0, 5, extra, part.options())}, 1));
  }
  return torch::cat(parts, 1);
}

TEST(Widening, WiderTransformsComputeTheSame) {
  torch::manual_seed(6);
  nic::ImageCodecModel model(nic_test::small_model_config());
  model->eval();
  nic::ImageCodecModel wide = nic::widen_model(*model, {32, 40, 56}, 32);
  wide->eval();
  EXPECT_EQ(wide->config.widths, (std::array<int, 3>{32, 40, 56}));
  EXPECT_GT(nic::macs_per_pixel(*wide).total(), 1.5 * nic::macs_per_pixel(*model).total());
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::rand({1, 3, 64, 96});
  const torch::Tensor y = model->g_a(x);
  EXPECT_TRUE(torch::allclose(wide->g_a(x), y, 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(wide->g_s(y), model->g_s(y), 1e-4, 1e-5));
  // The new channels are live (fresh weights), only what reads them starts at zero.
  EXPECT_GT(wide->g_a->body->parameters()[0].abs().sum().item<double>(),
            model->g_a->body->parameters()[0].abs().sum().item<double>());
  EXPECT_THROW(nic::widen_model(*model, {16, 40, 56}, 32), nic::Error);
}

TEST(Widening, MoreLatentsCodeTheSame) {
  torch::manual_seed(7);
  nic::ImageCodecModel model(nic_test::small_model_config());
  nic::ImageCodecModel wide = nic::widen_model(*model, model->config.widths, 48);
  ASSERT_EQ(wide->config.latent_channels, 48);
  const int64_t n = 32, m = 48;
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::rand({2, 3, 128, 128});
  const torch::Tensor anchor = torch::tensor({0, 3}, torch::kInt64);

  // The new latents are quiet copies of the old ones the hyperprior gives the largest scales.
  const torch::Tensor sources =
      model->scale_net->convs.back()->bias.argsort(0, /*descending=*/true).slice(0, 0, m - n);
  const double gain = nic::kNewLatentScale;
  const torch::Tensor y = model->g_a(x);
  const torch::Tensor y_wide = wide->g_a(x);
  EXPECT_TRUE(torch::allclose(y_wide.slice(1, 0, n), y, 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(y_wide.slice(1, n), gain * y.index_select(1, sources), 1e-4, 1e-5));
  EXPECT_TRUE(torch::equal(wide->q_basic_log2.slice(0, n), model->q_basic_log2.index({sources})));

  // The reconstruction and z's rate are unchanged.
  torch::manual_seed(1);
  const nic::TrainOutput narrow_out = model->forward_train(x, anchor);
  torch::manual_seed(1);
  const nic::TrainOutput wide_out = wide->forward_train(x, anchor);
  EXPECT_TRUE(torch::allclose(wide_out.x_hat, narrow_out.x_hat, 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(wide_out.z_bits, narrow_out.z_bits, 1e-4, 1e-3));

  // Every coding step's means of the old latents ignore whatever the new channels hold; those of
  // the new latents are their sources' scaled alike.
  const torch::Tensor z_hat = torch::round(model->h_a(y));
  const torch::Tensor features = model->hyper_mean_synthesis(z_hat).slice(2, 0, 4).slice(3, 0, 4);
  const torch::Tensor features_wide = widen_parts(features, n, m).to(torch::kFloat);
  const torch::Tensor first = model->means->step1(features);
  const torch::Tensor first_wide = wide->means->step1(features_wide);
  EXPECT_TRUE(torch::allclose(first_wide.slice(1, 0, n), first, 1e-4, 1e-5));
  EXPECT_TRUE(
      torch::allclose(first_wide.slice(1, n), gain * first.index_select(1, sources), 1e-4, 1e-5));
  const torch::Tensor hyper_means = torch::randn({2, n, 4, 4});
  const torch::Tensor hyper_means_wide = widen_parts(hyper_means, n, m).to(torch::kFloat);
  torch::Tensor carried, carried_wide;
  for (int s = 1; s <= 3; ++s) {
    const torch::Tensor earlier = torch::randn({2, s * n, 4, 4});
    const torch::Tensor means =
        model->means->context_step(s, hyper_means, features, earlier, carried);
    const torch::Tensor means_wide =
        wide->means->context_step(s, hyper_means_wide, features_wide,
                                  widen_parts(earlier, n, m).to(torch::kFloat), carried_wide);
    EXPECT_TRUE(torch::allclose(means_wide.slice(1, 0, n), means, 1e-4, 1e-5)) << "step " << s;
    const torch::Tensor correction = (means - hyper_means).index_select(1, sources);
    EXPECT_TRUE(torch::allclose(means_wide.slice(1, n) - hyper_means_wide.slice(1, n),
                                gain * correction, 1e-4, 1e-5))
        << "step " << s;
  }

  // The scale networks, float and exported as integers: the old latents' indices are unchanged;
  // a copy's is its source's, lowered by the octaves of the gain (the integer bias may round
  // the other way).
  const torch::Tensor z_int = z_hat.clamp(-20, 20);
  const double shift = nic::kScaleIndexStepsPerOctave * std::log2(gain);
  const torch::Tensor index = model->scale_net->forward(z_int);
  const torch::Tensor index_wide = wide->scale_net->forward(z_int);
  EXPECT_TRUE(torch::equal(index_wide.slice(1, 0, n), index));
  EXPECT_TRUE(torch::equal(index_wide.slice(1, n), index.index_select(1, sources) + shift));
  const torch::Tensor exact = model->scale_net->export_integer().forward(z_int);
  const torch::Tensor exact_wide = wide->scale_net->export_integer().forward(z_int);
  EXPECT_TRUE(torch::equal(exact_wide.slice(1, 0, n), exact));
  EXPECT_LE((exact_wide.slice(1, n) - exact.index_select(1, sources) - int64_t(shift))
                .abs()
                .max()
                .item<int64_t>(),
            1);
  for (int s = 1; s <= 3; ++s) {
    const torch::Tensor input = torch::randint(0, 40, {1, (s + 1) * n, 6, 6}).to(torch::kFloat);
    const torch::Tensor input_wide = widen_parts(input, n, m);
    auto& net = model->context_scales[size_t(s - 1)];
    auto& net_wide = wide->context_scales[size_t(s - 1)];
    const torch::Tensor change = net->forward(input);
    const torch::Tensor change_wide = net_wide->forward(input_wide);
    EXPECT_TRUE(torch::equal(change_wide.slice(1, 0, n), change));
    EXPECT_TRUE(torch::equal(change_wide.slice(1, n), change.index_select(1, sources)));
    EXPECT_TRUE(torch::equal(net_wide->export_integer().forward(input_wide).slice(1, 0, n),
                             net->export_integer().forward(input)));
  }

  EXPECT_THROW(nic::widen_model(*model, model->config.widths, 16), nic::Error);
}

}  // namespace
