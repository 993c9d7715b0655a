#include "model/integer_conv_cpu.h"

#include <ATen/Parallel.h>

#include <cstdint>
#include <cstring>
#include <limits>

#include "common/error.h"
#include "model/integer_scale_net.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define NIC_HAS_AVX512_KERNEL 1
#endif

namespace nic {

namespace {

constexpr int64_t kOutBlock = 16;  // int32 lanes of a 512-bit vector
constexpr int64_t kPositions = 8;  // positions of a row computed together, sharing weight loads

bool cpu_runs_kernel() {
#if NIC_HAS_AVX512_KERNEL
  static const bool supported =
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  return supported;
#else
  return false;
#endif
}

#if NIC_HAS_AVX512_KERNEL
// Output row y of the convolution, for positions x0 .. x0 + kPositions - 1 and outputs
// 16 * block ..: input is the zero-padded image, int16 [h + 2][row_stride][2 * in_pairs].
__attribute__((target("avx512f,avx512bw"))) void convolve_block(
    const int16_t* input, int64_t row_stride, int64_t in_pairs, const int16_t* weights,
    int64_t out_blocks, int64_t y, int64_t x0, int64_t block, int32_t (*sums)[kOutBlock]) {
  const int64_t pixel = 2 * in_pairs;  // int16 values per position
  __m512i acc[kPositions];
  for (__m512i& a : acc) a = _mm512_setzero_si512();
  for (int64_t tap = 0; tap < 9; ++tap) {
    const int16_t* in = input + ((y + tap / 3) * row_stride + x0 + tap % 3) * pixel;
    const int16_t* w = weights + (tap * in_pairs * out_blocks + block) * kOutBlock * 2;
    for (int64_t pair = 0; pair < in_pairs; ++pair) {
      const __m512i wv = _mm512_loadu_si512(w + pair * out_blocks * kOutBlock * 2);
      for (int64_t j = 0; j < kPositions; ++j) {
        int32_t both;  // inputs 2 * pair and 2 * pair + 1 at position j
        std::memcpy(&both, in + j * pixel + 2 * pair, sizeof both);
        // Each lane: x0 * w0 + x1 * w1, below 2^16 in magnitude.
        acc[j] = _mm512_add_epi32(acc[j], _mm512_madd_epi16(_mm512_set1_epi32(both), wv));
      }
    }
  }
  for (int64_t j = 0; j < kPositions; ++j) _mm512_storeu_si512(sums[j], acc[j]);
}
#endif

}  // namespace

PackedIntegerConv PackedIntegerConv::pack(const torch::Tensor& weight) {
  PackedIntegerConv p;
  const int64_t out = weight.size(0), in = weight.size(1);
  // Every sum is of 9 * in products of at most 255 * 127: it must stay in int32.
  const double largest_sum = 9.0 * double(in) * kIntegerActivationLimit * kIntegerWeightLimit;
  if (!cpu_runs_kernel() || !weight.is_cpu() || weight.size(2) != 3 || weight.size(3) != 3 ||
      largest_sum > double(std::numeric_limits<int32_t>::max())) {
    return p;
  }
  const int64_t in_pairs = (in + 1) / 2, out_blocks = (out + kOutBlock - 1) / kOutBlock;
  // [out, in, 3, 3] -> [3, 3, in, out] padded to [9, 2 * in_pairs, kOutBlock * out_blocks], then
  // the two inputs of a pair interleaved per output.
  torch::Tensor w = torch::zeros({9, 2 * in_pairs, out_blocks * kOutBlock}, torch::kInt16);
  w.slice(1, 0, in).slice(2, 0, out).copy_(weight.permute({2, 3, 1, 0}).reshape({9, in, out}));
  p.weights_ =
      w.view({9, in_pairs, 2, out_blocks, kOutBlock}).permute({0, 1, 3, 4, 2}).contiguous();
  p.in_ = in;
  p.out_ = out;
  return p;
}

torch::Tensor PackedIntegerConv::forward(const torch::Tensor& x) const {
  require(defined() && x.dim() == 4 && x.size(0) == 1 && x.size(1) == in_, NIC_ERROR_INTERNAL,
          "integer convolution: input does not match the layer");
  require(x.numel() == 0 || x.abs().max().item<double>() <= kIntegerActivationLimit,
          NIC_ERROR_INTERNAL, "integer convolution: input outside the activation range");
  const int64_t h = x.size(2), w = x.size(3);
  const int64_t in_pairs = weights_.size(1), out_blocks = weights_.size(2);
  const int64_t padded_w = (w + kPositions - 1) / kPositions * kPositions;
  // Zero padding: one row above and below, one column left, and right up to whole blocks.
  torch::Tensor input = torch::zeros({h + 2, padded_w + 2, 2 * in_pairs}, torch::kInt16);
  input.slice(0, 1, h + 1).slice(1, 1, w + 1).slice(2, 0, in_).copy_(x[0].permute({1, 2, 0}));
  torch::Tensor result = torch::empty({1, out_, h, w}, x.options());
#if NIC_HAS_AVX512_KERNEL
  const int16_t* in_data = input.data_ptr<int16_t>();
  const int16_t* w_data = weights_.data_ptr<int16_t>();
  double* out_data = result.data_ptr<double>();
  at::parallel_for(0, h, 1, [&](int64_t begin, int64_t end) {
    int32_t sums[kPositions][kOutBlock];
    for (int64_t y = begin; y < end; ++y) {
      for (int64_t x0 = 0; x0 < padded_w; x0 += kPositions) {
        for (int64_t block = 0; block < out_blocks; ++block) {
          convolve_block(in_data, padded_w + 2, in_pairs, w_data, out_blocks, y, x0, block, sums);
          for (int64_t lane = 0; lane < kOutBlock && block * kOutBlock + lane < out_; ++lane) {
            double* plane = out_data + (block * kOutBlock + lane) * h * w + y * w;
            for (int64_t j = 0; j < kPositions && x0 + j < w; ++j) plane[x0 + j] = sums[j][lane];
          }
        }
      }
    }
  });
#endif
  return result;
}

}  // namespace nic
