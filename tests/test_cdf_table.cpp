#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "common/error.h"
#include "entropy/cdf_table.h"

namespace nic {
namespace {

void expect_valid(const CdfTable& table) {
  ASSERT_GE(table.cdf.size(), 2u);
  EXPECT_EQ(table.cdf.front(), 0u);
  EXPECT_EQ(table.cdf.back(), kProbabilityTotal);
  for (size_t i = 1; i < table.cdf.size(); ++i) ASSERT_GT(table.cdf[i], table.cdf[i - 1]);
}

uint32_t freq(const CdfTable& table, size_t index) {
  return table.cdf[index + 1] - table.cdf[index];
}

TEST(CdfTable, KnownQuantization) {
  // Exact shares 32768, 16384, 8192, 8192 plus the escape forced to 1; the excess unit comes off
  // the largest symbol.
  const CdfTable table = make_cdf_table(-2, {0.5, 0.25, 0.125, 0.125}, 0.0);
  EXPECT_EQ(table.offset, -2);
  EXPECT_EQ(table.value_count(), 4u);
  const std::vector<uint32_t> expected = {0, 32767, 49151, 57343, 65535, 65536};
  EXPECT_EQ(table.cdf, expected);
}

TEST(CdfTable, RandomPmfsAreValidAndProportional) {
  std::mt19937 rng(99);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  for (int trial = 0; trial < 200; ++trial) {
    const size_t n = rng() % 2000;
    std::vector<double> pmf(n);
    double total = 0.0;
    for (double& p : pmf) {
      p = rng() % 5 == 0 ? 0.0 : std::pow(uniform(rng), 4.0);
      total += p;
    }
    const double escape = uniform(rng) * 1e-3;
    total += escape;
    const CdfTable table = make_cdf_table(static_cast<int32_t>(rng() % 100) - 50, pmf, escape);
    ASSERT_EQ(table.cdf.size(), n + 2);
    expect_valid(table);
    for (size_t i = 0; i < n; ++i) {
      // Rounding, the forced minimum of 1 and the round-robin fix-up move a frequency only a
      // little.
      const double ideal = pmf[i] / total * kProbabilityTotal;
      ASSERT_NEAR(freq(table, i), ideal, 3.0 + 0.03 * ideal) << "trial " << trial << " i " << i;
    }
  }
}

TEST(CdfTable, IsDeterministic) {
  std::mt19937 rng(5);
  std::vector<double> pmf(777);
  for (double& p : pmf) p = std::exp(-static_cast<double>(rng() % 1000) / 50.0);
  const CdfTable a = make_cdf_table(3, pmf, 1e-7);
  const CdfTable b = make_cdf_table(3, pmf, 1e-7);
  EXPECT_EQ(a.offset, b.offset);
  EXPECT_EQ(a.cdf, b.cdf);
  // Scaling every mass by a power of two changes nothing.
  std::vector<double> scaled(pmf);
  for (double& p : scaled) p *= 1024.0;
  EXPECT_EQ(make_cdf_table(3, scaled, 1024.0 * 1e-7).cdf, a.cdf);
}

TEST(CdfTable, DegenerateMasses) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // All zero (or garbage) becomes uniform.
  const CdfTable uniform = make_cdf_table(0, {0.0, -1.0, nan}, 0.0);
  expect_valid(uniform);
  EXPECT_EQ(uniform.cdf, (std::vector<uint32_t>{0, 16384, 32768, 49152, 65536}));
  // A single certain value still leaves room for the escape.
  const CdfTable certain = make_cdf_table(7, {1.0}, 0.0);
  EXPECT_EQ(certain.cdf, (std::vector<uint32_t>{0, 65535, 65536}));
  // Escape only.
  const CdfTable escape_only = make_cdf_table(0, {}, 0.0);
  EXPECT_EQ(escape_only.cdf, (std::vector<uint32_t>{0, 65536}));
  EXPECT_EQ(escape_only.value_count(), 0u);
  // The most symbols a table can hold: every frequency is 1.
  const CdfTable full = make_cdf_table(0, std::vector<double>(kMaxTableSymbols - 1, 1.0), 5.0);
  expect_valid(full);
}

TEST(CdfTable, RejectsBadArguments) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_THROW(make_cdf_table(0, {1.0, inf}, 0.0), Error);
  EXPECT_THROW(make_cdf_table(0, {1.0}, inf), Error);
  EXPECT_THROW(make_cdf_table(0, std::vector<double>(kMaxTableSymbols, 1.0), 1.0), Error);
  EXPECT_THROW(make_cdf_table(std::numeric_limits<int32_t>::max(), {1.0, 1.0}, 1.0), Error);
  EXPECT_NO_THROW(make_cdf_table(std::numeric_limits<int32_t>::max(), {1.0}, 1.0));
  try {
    make_cdf_table(0, {inf}, 0.0);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), NIC_ERROR_INVALID_ARGUMENT);
  }
}

TEST(CdfTable, SigmaLadder) {
  const std::vector<double> sigmas = nic_sigma_ladder();
  ASSERT_EQ(sigmas.size(), 73u);
  EXPECT_DOUBLE_EQ(sigmas.front(), 0.125);
  EXPECT_DOUBLE_EQ(sigmas[8], 0.25);
  EXPECT_DOUBLE_EQ(sigmas[24], 1.0);
  EXPECT_DOUBLE_EQ(sigmas.back(), 64.0);
  for (size_t k = 1; k < sigmas.size(); ++k) {
    EXPECT_NEAR(sigmas[k] / sigmas[k - 1], std::exp2(0.125), 1e-12);
  }
}

TEST(CdfTable, GaussianTables) {
  const std::vector<double> sigmas = nic_sigma_ladder();
  const std::vector<CdfTable> tables = make_gaussian_tables(sigmas);
  ASSERT_EQ(tables.size(), sigmas.size());
  for (size_t t = 0; t < tables.size(); ++t) {
    const CdfTable& table = tables[t];
    expect_valid(table);
    const size_t n = table.value_count();
    ASSERT_EQ(n % 2, 1u);
    const int32_t radius = static_cast<int32_t>(n / 2);
    EXPECT_EQ(table.offset, -radius);
    EXPECT_GE(radius, 1);
    // Tail mass 1e-9 is about 6.1 standard deviations.
    EXPECT_GE(radius, sigmas[t] * 6.1094);
    EXPECT_LE(radius, std::max(1.0, sigmas[t] * 6.1095 + 1.0));
    EXPECT_LE(n + 1, 1500u);
    for (int32_t k = 1; k <= radius; ++k) {
      // Symmetric up to the fix-up's tie-breaking by index.
      ASSERT_NEAR(freq(table, radius + k), freq(table, radius - k), 1.0) << "sigma " << sigmas[t];
      ASSERT_LE(freq(table, radius + k), freq(table, radius + k - 1));
    }
    // The quantized table costs almost nothing over the Gaussian's own entropy.
    double entropy = 0.0;
    double cross = 0.0;
    const double scale = 1.0 / (sigmas[t] * std::sqrt(2.0));
    for (int32_t k = -radius; k <= radius; ++k) {
      const double p =
          0.5 * (std::erfc((std::abs(k) - 0.5) * scale) - std::erfc((std::abs(k) + 0.5) * scale));
      if (p <= 0.0) continue;
      entropy -= p * std::log2(p);
      cross -= p * std::log2(freq(table, k + radius) / 65536.0);
    }
    EXPECT_LT(cross - entropy, 0.005 + 1e-3 * entropy) << "sigma " << sigmas[t];
  }
  // sigma 0.125: almost all mass at 0.
  EXPECT_EQ(tables.front().offset, -1);
  EXPECT_GT(freq(tables.front(), 1), 65500u);
}

TEST(CdfTable, GaussianRadiusIsCapped) {
  const std::vector<CdfTable> tables = make_gaussian_tables({1000.0, 0.001}, 1e-9);
  EXPECT_EQ(tables[0].offset, -kMaxGaussianRadius);
  EXPECT_EQ(tables[0].value_count(), 2u * kMaxGaussianRadius + 1);
  expect_valid(tables[0]);
  EXPECT_EQ(tables[1].offset, -1);
  expect_valid(tables[1]);
  EXPECT_THROW(make_gaussian_tables({0.0}), Error);
  EXPECT_THROW(make_gaussian_tables({-1.0}), Error);
  EXPECT_THROW(make_gaussian_tables({1.0}, 0.0), Error);
}

TEST(CdfTable, FlattenRoundTrip) {
  std::vector<CdfTable> tables = make_gaussian_tables(nic_sigma_ladder());
  tables.push_back(make_cdf_table(std::numeric_limits<int32_t>::min(), {1.0, 2.0}, 0.5));
  tables.push_back(make_cdf_table(0, {}, 0.0));
  std::vector<int32_t> offsets, lengths, cdf;
  flatten_tables(tables, offsets, lengths, cdf);
  ASSERT_EQ(offsets.size(), tables.size());
  ASSERT_EQ(lengths.size(), tables.size());
  const std::vector<CdfTable> back = unflatten_tables(offsets, lengths, cdf);
  ASSERT_EQ(back.size(), tables.size());
  for (size_t t = 0; t < tables.size(); ++t) {
    EXPECT_EQ(back[t].offset, tables[t].offset);
    EXPECT_EQ(back[t].cdf, tables[t].cdf);
  }
  EXPECT_TRUE(unflatten_tables({}, {}, {}).empty());
}

TEST(CdfTable, UnflattenRejectsBadData) {
  const std::vector<int32_t> good_offsets = {-1, 5};
  const std::vector<int32_t> good_lengths = {4, 3};
  const std::vector<int32_t> good_cdf = {0, 100, 65000, 65536, 0, 1, 65536};
  ASSERT_NO_THROW(unflatten_tables(good_offsets, good_lengths, good_cdf));

  auto expect_model_error = [](const std::vector<int32_t>& offsets,
                               const std::vector<int32_t>& lengths,
                               const std::vector<int32_t>& cdf) {
    try {
      unflatten_tables(offsets, lengths, cdf);
      ADD_FAILURE() << "accepted bad tables";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), NIC_ERROR_MODEL);
    }
  };
  expect_model_error({-1}, good_lengths, good_cdf);                  // count mismatch
  expect_model_error(good_offsets, {4, 4}, good_cdf);                // data too short
  expect_model_error(good_offsets, {4, 2}, good_cdf);                // data left over
  expect_model_error(good_offsets, {1, 6}, good_cdf);                // length too small
  expect_model_error(good_offsets, {-4, 11}, good_cdf);              // negative length
  expect_model_error({0}, {70000}, std::vector<int32_t>(70000, 0));  // length too large
  expect_model_error(good_offsets, good_lengths, {1, 100, 65000, 65536, 0, 1, 65536});
  expect_model_error(good_offsets, good_lengths, {0, 100, 65000, 65535, 0, 1, 65536});
  expect_model_error(good_offsets, good_lengths, {0, 100, 65000, 65536, 0, 1, 65537});
  expect_model_error(good_offsets, good_lengths, {0, 100, 100, 65536, 0, 1, 65536});
  expect_model_error(good_offsets, good_lengths, {0, 200, 100, 65536, 0, 1, 65536});
  expect_model_error(good_offsets, good_lengths, {0, -5, 65000, 65536, 0, 1, 65536});
  expect_model_error({std::numeric_limits<int32_t>::max(), 0}, good_lengths, good_cdf);
}

}  // namespace
}  // namespace nic
