// Quantized probability tables for the symbol coder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "entropy/rans.h"

namespace nic {

// The scale ladder: scale index k (0 .. kScaleLevels - 1) stands for a latent whose spread is
// sigma = 2^(kScaleLadderLowestLog2 + k / kScaleIndexStepsPerOctave) quantization steps. The
// Gaussian tables, the integer scale networks and the training model all use it.
constexpr int kScaleLevels = 73;
constexpr int kScaleIndexStepsPerOctave = 8;
constexpr int kScaleLadderLowestLog2 = -3;

// A distribution over the values offset .. offset + n - 1 followed by one escape symbol (index n)
// that stands for every other int32. cdf has n + 2 entries: cdf[0] = 0, cdf[n + 1] = 2^16, strictly
// increasing, so every symbol including the escape has a frequency of at least 1.
struct CdfTable {
  int32_t offset = 0;
  std::vector<uint32_t> cdf;

  // n: the number of regular (non-escape) values; the escape symbol's index.
  size_t value_count() const { return cdf.size() - 2; }
};

// Largest number of symbols (regular values + escape) a table may have.
constexpr size_t kMaxTableSymbols = 65536;
// Largest radius make_gaussian_tables uses: at most 2 * 749 + 1 values + escape = 1500 symbols.
constexpr int32_t kMaxGaussianRadius = 749;

// Quantizes pmf (values offset .. offset + pmf.size() - 1) plus escape_mass to 16-bit frequencies.
// The masses need not be normalized; negative and NaN entries count as 0, and if everything is 0
// the table is uniform. Identical inputs give identical tables on every IEEE-754 machine, see the
// algorithm in cdf_table.cpp. Throws Error(NIC_ERROR_INVALID_ARGUMENT) on infinite masses, too
// many symbols or values that overflow int32.
CdfTable make_cdf_table(int32_t offset, const std::vector<double>& pmf, double escape_mass);

// Tables of discretized zero-mean Gaussians: for each sigma the values -R .. R with
// R = clamp(ceil(sigma * z), 1, kMaxGaussianRadius), where z is such that a Gaussian puts
// tail_mass outside [-z, z] standard deviations; the escape gets the exact mass beyond R + 0.5.
// Uses libm's erfc, so results may differ in the last bits between platforms: build the tables
// once and ship them (flatten_tables) rather than rebuilding them at decode time.
std::vector<CdfTable> make_gaussian_tables(const std::vector<double>& sigmas,
                                           double tail_mass = 1e-9);

// The codec's 73 scales sigma_k = 2^(-3 + k / 8), k = 0 .. 72 (0.125 .. 64); index k <-> sigma_k.
std::vector<double> nic_sigma_ladder();

// Flat int32 form for storing tables in a weights file: per table its offset and its cdf length
// (n + 2), and all cdf arrays concatenated.
void flatten_tables(const std::vector<CdfTable>& tables, std::vector<int32_t>& offsets,
                    std::vector<int32_t>& lengths, std::vector<int32_t>& cdf_concat);

// Inverse of flatten_tables. Validates everything (matching sizes, cdf starting at 0, ending at
// 2^16, strictly increasing, value range inside int32) and throws Error(NIC_ERROR_MODEL) if not.
std::vector<CdfTable> unflatten_tables(const std::vector<int32_t>& offsets,
                                       const std::vector<int32_t>& lengths,
                                       const std::vector<int32_t>& cdf_concat);

}  // namespace nic
