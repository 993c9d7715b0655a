// The integer networks' convolution in each of its forms (the CPU's int16 kernel, LibTorch's
// float64 convolution, the nine matmuls other devices run) gives the same integers, up to the
// largest sums a weights file allows.
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "model/integer_conv_cpu.h"
#include "model/integer_scale_net.h"

namespace {

// Exact reference: the nine-matmul form in int64.
torch::Tensor int64_reference(const torch::Tensor& x, const torch::Tensor& w) {
  return nic::exact_conv3x3_by_taps(x.to(torch::kInt64), w.to(torch::kInt64));
}

void expect_exact(const torch::Tensor& x, const torch::Tensor& w) {
  const torch::Tensor reference = int64_reference(x, w);
  EXPECT_TRUE(torch::equal(nic::exact_conv3x3(x, w).to(torch::kInt64), reference));
  EXPECT_TRUE(torch::equal(nic::exact_conv3x3_by_taps(x, w).to(torch::kInt64), reference));
  const nic::PackedIntegerConv packed = nic::PackedIntegerConv::pack(w);
  if (packed.defined()) {
    EXPECT_TRUE(torch::equal(packed.forward(x).to(torch::kInt64), reference));
  }
}

const auto kFloat64 = torch::TensorOptions().dtype(torch::kFloat64);

// Shapes of the default model's context networks (first, hidden and output layers) on one phase
// grid of a 768x512 frame, its hyperprior network's last layer, and odd sizes.
const std::vector<std::array<int64_t, 4>> kShapes = {{768, 32, 16, 24}, {32, 32, 16, 24},
                                                     {32, 192, 16, 24}, {48, 192, 32, 48},
                                                     {47, 20, 5, 7},    {3, 1, 1, 1}};

}  // namespace

TEST(IntegerConvolution, MatchesIntegerArithmeticOnActivations) {
  torch::manual_seed(7);
  for (const auto& [cin, cout, h, w] : kShapes) {
    const torch::Tensor x = torch::randint(0, 256, {1, cin, h, w}, kFloat64);
    const torch::Tensor weight = torch::randint(-127, 128, {cout, cin, 3, 3}, kFloat64);
    expect_exact(x, weight);
  }
}

TEST(IntegerConvolution, MatchesIntegerArithmeticOnSignedInputs) {
  // The first layer of the hyperprior's network sees z_hat, clamped to +-127.
  torch::manual_seed(8);
  for (const auto& [cin, cout, h, w] : kShapes) {
    const torch::Tensor x = torch::randint(-127, 128, {1, cin, h, w}, kFloat64);
    const torch::Tensor weight = torch::randint(-127, 128, {cout, cin, 3, 3}, kFloat64);
    expect_exact(x, weight);
  }
}

TEST(IntegerConvolution, ExactAtTheLargestSums) {
  // Every input at its largest activation and every weight at the limit, signs alternating by
  // input channel so that partial sums grow and shrink: the sums reach 9 * 768 * 127 * 255.
  const int64_t cin = 768;
  const torch::Tensor x = torch::full({1, cin, 6, 9}, 255.0, kFloat64);
  torch::Tensor weight = torch::full({4, cin, 3, 3}, nic::kIntegerWeightLimit, kFloat64);
  weight.slice(1, 0, cin, 2).neg_();
  weight[0].fill_(nic::kIntegerWeightLimit);  // one channel all positive: the largest sum
  expect_exact(x, weight);
  EXPECT_EQ(nic::exact_conv3x3(x, weight)[0][0][3][4].item<double>(), 9.0 * cin * 127 * 255);
}

TEST(IntegerConvolution, CpuKernelRunsWhereTheCpuHasIt) {
  const nic::PackedIntegerConv packed =
      nic::PackedIntegerConv::pack(torch::ones({16, 8, 3, 3}, kFloat64));
  if (!packed.defined()) GTEST_SKIP() << "this CPU has no AVX-512 BW: LibTorch's convolution runs";
  const torch::Tensor x = torch::ones({1, 8, 3, 3}, kFloat64);
  // The centre sees all 9 taps of 8 inputs, a corner 4 taps.
  EXPECT_EQ(packed.forward(x)[0][5][1][1].item<double>(), 72.0);
  EXPECT_EQ(packed.forward(x)[0][5][0][0].item<double>(), 32.0);
}
