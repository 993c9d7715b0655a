// The latents' distributions: the generalized Gaussian's training likelihood against the
// Gaussian it generalizes, its normalization, and its coding tables.
#include <gtest/gtest.h>

#include <cmath>

#include "entropy/cdf_table.h"
#include "model/entropy_model.h"

namespace {

TEST(LatentDistribution, GeneralizedGaussianNearShapeTwoIsTheGaussian) {
  torch::Tensor s = torch::linspace(-20.0, 20.0, 161, torch::kFloat64);
  for (double sigma : {0.2, 1.0, 3.7, 40.0}) {
    SCOPED_TRACE("sigma " + std::to_string(sigma));
    torch::Tensor sig = torch::full_like(s, sigma);
    torch::Tensor gauss = nic::latent_likelihood(s, sig, 2.0);
    torch::Tensor near = nic::latent_likelihood(s, sig, 1.9999);
    // Where the mass is not negligible the two agree closely.
    torch::Tensor relevant = gauss > 1e-6;
    EXPECT_LT(((near - gauss).abs() / gauss).masked_select(relevant).max().item<double>(), 2e-3);
  }
}

TEST(LatentDistribution, BinsSumToOneAndShapeChangesThePeak) {
  torch::Tensor s = torch::arange(-800, 801, torch::kFloat64);
  for (double beta : {1.0, 1.5, 2.0}) {
    for (double sigma : {0.3, 2.0, 25.0}) {
      SCOPED_TRACE("beta " + std::to_string(beta) + " sigma " + std::to_string(sigma));
      torch::Tensor p = nic::latent_likelihood(s, torch::full_like(s, sigma), beta);
      EXPECT_NEAR(p.sum().item<double>(), 1.0, 1e-6 + 1e-9 * 1601);
    }
  }
  // At equal standard deviation a smaller shape puts more mass on zero (a sharper peak).
  torch::Tensor zero = torch::zeros({1}, torch::kFloat64),
                sigma = torch::full({1}, 4.0, torch::kFloat64);
  EXPECT_GT(nic::latent_likelihood(zero, sigma, 1.5).item<double>(),
            nic::latent_likelihood(zero, sigma, 2.0).item<double>());
}

// Training's gradients stay finite everywhere, also where a value sits exactly on a bin edge
// (|s| = 0.5: the inner edge at zero) or in the centre; one NaN would end a run.
TEST(LatentDistribution, GradientsAreFiniteOnBinEdges) {
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    torch::Tensor s =
        torch::tensor({-1.5, -0.5, 0.0, 0.5, 0.25, 1.5, 7.0, 300.0}, dtype).requires_grad_(true);
    torch::Tensor sigma =
        torch::tensor({0.11, 0.5, 1.0, 2.0, 0.3, 8.0, 1.0, 0.2}, dtype).requires_grad_(true);
    for (double beta : {1.0, 1.5, 2.0}) {
      SCOPED_TRACE("beta " + std::to_string(beta));
      s.mutable_grad() = torch::Tensor();
      sigma.mutable_grad() = torch::Tensor();
      nic::bits_per_item(nic::latent_likelihood(s, sigma, beta).unsqueeze(0)).sum().backward();
      EXPECT_TRUE(torch::isfinite(s.grad()).all().item<bool>()) << s.grad();
      EXPECT_TRUE(torch::isfinite(sigma.grad()).all().item<bool>()) << sigma.grad();
    }
  }
}

TEST(LatentDistribution, TablesFollowTheLadderAndRoundTrip) {
  for (double beta : {1.5, 2.0}) {
    SCOPED_TRACE("beta " + std::to_string(beta));
    const std::vector<nic::CdfTable> tables = nic::make_latent_tables(beta);
    ASSERT_EQ(tables.size(), nic::nic_sigma_ladder().size());
    std::vector<int32_t> offsets, lengths, cdf;
    nic::flatten_tables(tables, offsets, lengths, cdf);
    EXPECT_NO_THROW(nic::unflatten_tables(offsets, lengths, cdf));
    for (size_t k = 1; k < tables.size(); ++k) {
      // Symmetric around zero, wider as sigma grows.
      EXPECT_EQ(tables[k].offset, -int32_t(tables[k].value_count() / 2));
      EXPECT_GE(tables[k].value_count(), tables[k - 1].value_count());
    }
  }
  // The generalized Gaussian's tables are the ones its likelihood describes: the table's
  // probability of 0 matches the likelihood within the 16-bit quantization.
  const std::vector<nic::CdfTable> gg = nic::make_latent_tables(1.5);
  const std::vector<double> sigmas = nic::nic_sigma_ladder();
  for (size_t k : {8u, 24u, 40u}) {
    const nic::CdfTable& t = gg[k];
    const size_t zero = size_t(-t.offset);
    const double table_p = (double(t.cdf[zero + 1]) - double(t.cdf[zero])) / 65536.0;
    const double p = nic::latent_likelihood(torch::zeros({1}, torch::kFloat64),
                                            torch::full({1}, sigmas[k], torch::kFloat64), 1.5)
                         .item<double>();
    EXPECT_NEAR(table_p, p, 0.002 + 0.01 * p) << "table " << k;
  }
}

}  // namespace
