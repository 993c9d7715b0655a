// The integer networks' convolution: the CPU's float64 convolution and the nine-matmul form that
// other devices run give the same integers, up to the largest sums a weights file allows.
#include <gtest/gtest.h>

#include <array>
#include <vector>

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
}

}  // namespace

TEST(IntegerConvolution, MatchesIntegerArithmeticOnRandomLayers) {
  torch::manual_seed(7);
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  // Shapes of the default model's context networks (first, hidden and output layers) at one
  // phase grid of a 768x512 frame, and an odd-sized grid.
  for (const auto& [cin, cout, h, w] : std::vector<std::array<int64_t, 4>>{
           {768, 32, 16, 24}, {32, 32, 16, 24}, {32, 192, 16, 24}, {48, 20, 5, 7}}) {
    const torch::Tensor x = torch::randint(0, 256, {1, cin, h, w}, f64);
    const torch::Tensor weight = torch::randint(-127, 128, {cout, cin, 3, 3}, f64);
    expect_exact(x, weight);
  }
}

TEST(IntegerConvolution, ExactAtTheLargestSums) {
  // Every input at its largest activation and every weight at the limit, signs alternating by
  // input channel so that partial sums grow and shrink: the sums reach 9 * 768 * 127 * 255.
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  const int64_t cin = 768;
  const torch::Tensor x = torch::full({1, cin, 6, 9}, 255.0, f64);
  torch::Tensor weight = torch::full({4, cin, 3, 3}, nic::kIntegerWeightLimit, f64);
  weight.slice(1, 0, cin, 2).neg_();
  weight[0].fill_(nic::kIntegerWeightLimit);  // one channel all positive: the largest sum
  expect_exact(x, weight);
  EXPECT_EQ(nic::exact_conv3x3(x, weight)[0][0][3][4].item<double>(), 9.0 * cin * 127 * 255);
}
