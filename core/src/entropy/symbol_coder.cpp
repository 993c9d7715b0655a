#include "entropy/symbol_coder.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"

namespace nic {
namespace {

constexpr int kChunkBits = 4;
constexpr int kMaxChunks = 8;  // 4 * 8 bits hold any excess below 2^32

struct EscapeLength {
  int chunks;     // m
  uint64_t base;  // smallest excess coded with m chunks
};

EscapeLength escape_length(uint64_t excess) {
  EscapeLength length{1, 0};
  uint64_t span = uint64_t{1} << kChunkBits;
  while (excess - length.base >= span) {
    length.base += span;
    span <<= kChunkBits;
    ++length.chunks;
  }
  return length;
}

int escape_payload_bits(int chunks) { return 1 + chunks + kChunkBits * chunks; }

}  // namespace

void SymbolEncoder::encode(int32_t value, const CdfTable& table) {
  const std::vector<uint32_t>& cdf = table.cdf;
  const int64_t n = static_cast<int64_t>(table.value_count());
  const int64_t index = int64_t{value} - table.offset;
  if (index >= 0 && index < n) {
    rans_.put(cdf[index], cdf[index + 1] - cdf[index], kProbabilityBits);
    return;
  }
  rans_.put(cdf[n], kProbabilityTotal - cdf[n], kProbabilityBits);
  const bool below = index < 0;
  const uint64_t excess = static_cast<uint64_t>(below ? -1 - index : index - n);
  const EscapeLength length = escape_length(excess);
  rans_.put_bits(below ? 1 : 0, 1);
  for (int i = 1; i < length.chunks; ++i) rans_.put_bits(1, 1);
  rans_.put_bits(0, 1);
  const uint64_t rest = excess - length.base;
  for (int i = length.chunks - 1; i >= 0; --i) {
    rans_.put_bits(static_cast<uint32_t>(rest >> (kChunkBits * i)) & 15, kChunkBits);
  }
}

double SymbolEncoder::cost_bits(int32_t value, const CdfTable& table) {
  const std::vector<uint32_t>& cdf = table.cdf;
  const int64_t n = static_cast<int64_t>(table.value_count());
  const int64_t index = int64_t{value} - table.offset;
  if (index >= 0 && index < n) {
    return kProbabilityBits - std::log2(static_cast<double>(cdf[index + 1] - cdf[index]));
  }
  const uint64_t excess = static_cast<uint64_t>(index < 0 ? -1 - index : index - n);
  return kProbabilityBits - std::log2(static_cast<double>(kProbabilityTotal - cdf[n])) +
         escape_payload_bits(escape_length(excess).chunks);
}

int32_t SymbolDecoder::decode(const CdfTable& table) {
  const std::vector<uint32_t>& cdf = table.cdf;
  const uint32_t slot = rans_.peek(kProbabilityBits);
  // cdf[0] = 0 <= slot < cdf.back() = 2^16, so the symbol index is in [0, n].
  const size_t index = std::upper_bound(cdf.begin() + 1, cdf.end(), slot) - cdf.begin() - 1;
  rans_.advance(cdf[index], cdf[index + 1] - cdf[index], kProbabilityBits);
  if (index < table.value_count()) return table.offset + static_cast<int32_t>(index);
  return decode_escape(table);
}

int32_t SymbolDecoder::decode_escape(const CdfTable& table) {
  const bool below = rans_.get_bits(1) != 0;
  int chunks = 1;
  while (rans_.get_bits(1) != 0) {
    if (++chunks > kMaxChunks) throw Error(NIC_ERROR_CORRUPT, "entropy: impossible escape length");
  }
  uint64_t rest = 0;
  for (int i = 0; i < chunks; ++i) rest = rest << kChunkBits | rans_.get_bits(kChunkBits);
  uint64_t base = 0;
  for (int i = 1; i < chunks; ++i) base += uint64_t{1} << (kChunkBits * i);
  const int64_t excess = static_cast<int64_t>(base + rest);  // < 2^33
  const int64_t value =
      below ? int64_t{table.offset} - 1 - excess
            : int64_t{table.offset} + static_cast<int64_t>(table.value_count()) + excess;
  if (value < std::numeric_limits<int32_t>::min() || value > std::numeric_limits<int32_t>::max()) {
    throw Error(NIC_ERROR_CORRUPT, "entropy: escaped value overflows int32");
  }
  return static_cast<int32_t>(value);
}

void SymbolDecoder::check_finished() const {
  if (rans_.overrun()) throw Error(NIC_ERROR_TRUNCATED, "entropy: symbol stream is truncated");
  if (!rans_.ended_cleanly()) {
    throw Error(NIC_ERROR_CORRUPT, "entropy: symbol stream does not end where expected");
  }
}

}  // namespace nic
