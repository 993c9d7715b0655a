#include "entropy/cdf_table.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "common/error.h"

namespace nic {
namespace {

constexpr int kWeightBits = 40;

// The table of values offset .. offset + count - 1 must stay inside int32.
bool value_range_fits(int64_t offset, int64_t count) {
  return offset >= std::numeric_limits<int32_t>::min() &&
         offset + count - 1 <= std::numeric_limits<int32_t>::max();
}

}  // namespace

// Quantization algorithm (deterministic; only the first step uses floating point):
//  1. Each mass m_i (the pmf entries, then the escape) becomes an integer weight
//     w_i = llround(m_i / max_j m_j * 2^40). One IEEE division (correctly rounded) and an exact
//     power-of-two scaling, so every IEEE-754 machine computes the same w_i.
//  2. f_i = max(1, round(w_i * 2^16 / W)) with W = sum w_i, in integer arithmetic.
//  3. The excess d = sum f_i - 2^16 is removed (or the deficit added) one unit at a time,
//     round-robin over the symbols sorted by (f_i descending, index ascending), never taking a
//     symbol below 1. Changing a frequency f by one unit costs about 1 / (2^16 ln 2) bits per coded
//     symbol whenever f is not tiny, so spreading the units over the largest symbols is nearly
//     optimal.
CdfTable make_cdf_table(int32_t offset, const std::vector<double>& pmf, double escape_mass) {
  const size_t symbols = pmf.size() + 1;
  require(symbols <= kMaxTableSymbols, NIC_ERROR_INVALID_ARGUMENT,
          "cdf table: too many symbols (" + std::to_string(symbols) + ")");
  require(value_range_fits(offset, static_cast<int64_t>(pmf.size())), NIC_ERROR_INVALID_ARGUMENT,
          "cdf table: values overflow int32");

  std::vector<double> masses(pmf);
  masses.push_back(escape_mass);
  double max_mass = 0.0;
  for (double& m : masses) {
    if (std::isinf(m)) throw Error(NIC_ERROR_INVALID_ARGUMENT, "cdf table: infinite mass");
    if (!(m > 0.0)) m = 0.0;  // negative and NaN
    max_mass = std::max(max_mass, m);
  }

  std::vector<uint64_t> weights(symbols, 1);
  if (max_mass > 0.0) {
    for (size_t i = 0; i < symbols; ++i) {
      weights[i] =
          static_cast<uint64_t>(std::llround(std::ldexp(masses[i] / max_mass, kWeightBits)));
    }
  }
  const uint64_t total_weight = std::accumulate(weights.begin(), weights.end(), uint64_t{0});

  std::vector<uint32_t> freqs(symbols);
  int64_t excess = -int64_t{kProbabilityTotal};
  for (size_t i = 0; i < symbols; ++i) {
    const uint64_t rounded = (weights[i] * kProbabilityTotal + total_weight / 2) / total_weight;
    freqs[i] = static_cast<uint32_t>(std::max<uint64_t>(1, rounded));
    excess += freqs[i];
  }

  if (excess != 0) {
    std::vector<uint32_t> order(symbols);
    std::iota(order.begin(), order.end(), 0u);
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      return freqs[a] != freqs[b] ? freqs[a] > freqs[b] : a < b;
    });
    // Terminates: while excess > 0 the sum exceeds 2^16 >= symbols, so some f_i > 1.
    while (excess > 0) {
      for (uint32_t i : order) {
        if (excess == 0) break;
        if (freqs[i] > 1) {
          --freqs[i];
          --excess;
        }
      }
    }
    while (excess < 0) {
      for (uint32_t i : order) {
        if (excess == 0) break;
        ++freqs[i];
        ++excess;
      }
    }
  }

  CdfTable table;
  table.offset = offset;
  table.cdf.resize(symbols + 1);
  table.cdf[0] = 0;
  for (size_t i = 0; i < symbols; ++i) table.cdf[i + 1] = table.cdf[i] + freqs[i];
  return table;
}

std::vector<CdfTable> make_gaussian_tables(const std::vector<double>& sigmas, double tail_mass) {
  require(tail_mass > 0.0 && tail_mass < 1.0, NIC_ERROR_INVALID_ARGUMENT,
          "gaussian tables: tail_mass must be in (0, 1)");
  // Solve erfc(z / sqrt(2)) = tail_mass by bisection (erfc is decreasing).
  const double inv_sqrt2 = 1.0 / std::sqrt(2.0);
  double lo = 0.0;
  double hi = 40.0;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (std::erfc(mid * inv_sqrt2) > tail_mass ? lo : hi) = mid;
  }
  const double z = hi;

  std::vector<CdfTable> tables;
  tables.reserve(sigmas.size());
  for (double sigma : sigmas) {
    require(std::isfinite(sigma) && sigma > 0.0, NIC_ERROR_INVALID_ARGUMENT,
            "gaussian tables: sigma must be positive and finite");
    const double radius_real =
        std::clamp(std::ceil(sigma * z), 1.0, static_cast<double>(kMaxGaussianRadius));
    const int32_t radius = static_cast<int32_t>(radius_real);
    const double scale = inv_sqrt2 / sigma;
    // Built from |k| and mirrored so the table is exactly symmetric.
    std::vector<double> half(radius + 1);
    for (int32_t k = 0; k <= radius; ++k) {
      half[k] = 0.5 * (std::erfc((k - 0.5) * scale) - std::erfc((k + 0.5) * scale));
    }
    std::vector<double> pmf(2 * radius + 1);
    for (int32_t k = -radius; k <= radius; ++k) pmf[k + radius] = half[std::abs(k)];
    const double escape_mass = std::erfc((radius + 0.5) * scale);
    tables.push_back(make_cdf_table(-radius, pmf, escape_mass));
  }
  return tables;
}

std::vector<double> nic_sigma_ladder() {
  std::vector<double> sigmas(kScaleLevels);
  for (int k = 0; k < kScaleLevels; ++k)
    sigmas[k] = std::exp2(kScaleLadderLowestLog2 + double(k) / kScaleIndexStepsPerOctave);
  return sigmas;
}

void flatten_tables(const std::vector<CdfTable>& tables, std::vector<int32_t>& offsets,
                    std::vector<int32_t>& lengths, std::vector<int32_t>& cdf_concat) {
  offsets.clear();
  lengths.clear();
  cdf_concat.clear();
  for (const CdfTable& table : tables) {
    offsets.push_back(table.offset);
    lengths.push_back(static_cast<int32_t>(table.cdf.size()));
    for (uint32_t c : table.cdf) cdf_concat.push_back(static_cast<int32_t>(c));
  }
}

std::vector<CdfTable> unflatten_tables(const std::vector<int32_t>& offsets,
                                       const std::vector<int32_t>& lengths,
                                       const std::vector<int32_t>& cdf_concat) {
  require(offsets.size() == lengths.size(), NIC_ERROR_MODEL,
          "cdf tables: " + std::to_string(offsets.size()) + " offsets but " +
              std::to_string(lengths.size()) + " lengths");
  std::vector<CdfTable> tables(offsets.size());
  size_t pos = 0;
  for (size_t t = 0; t < tables.size(); ++t) {
    const std::string where = "cdf table " + std::to_string(t) + ": ";
    const int32_t length = lengths[t];
    require(length >= 2 && static_cast<size_t>(length) <= kMaxTableSymbols + 1, NIC_ERROR_MODEL,
            where + "bad length " + std::to_string(length));
    require(cdf_concat.size() - pos >= static_cast<size_t>(length), NIC_ERROR_MODEL,
            where + "cdf data too short");
    require(value_range_fits(offsets[t], length - 2), NIC_ERROR_MODEL,
            where + "values overflow int32");
    const int32_t* cdf = cdf_concat.data() + pos;
    require(cdf[0] == 0, NIC_ERROR_MODEL, where + "cdf does not start at 0");
    require(cdf[length - 1] == static_cast<int32_t>(kProbabilityTotal), NIC_ERROR_MODEL,
            where + "cdf does not end at 65536");
    for (int32_t i = 1; i < length; ++i) {
      if (cdf[i] <= cdf[i - 1]) throw Error(NIC_ERROR_MODEL, where + "cdf not strictly increasing");
    }
    tables[t].offset = offsets[t];
    tables[t].cdf.assign(cdf, cdf + length);
    pos += length;
  }
  require(pos == cdf_concat.size(), NIC_ERROR_MODEL,
          "cdf tables: " + std::to_string(cdf_concat.size() - pos) + " unused cdf entries");
  return tables;
}

}  // namespace nic
