// Codes int32 values with CdfTables over rANS. A value outside a table's range is coded as the
// escape symbol followed by raw bits:
//   1 bit   side: 0 = above the range (value = offset + n + d), 1 = below (value = offset - 1 - d)
//   unary   m - 1 one bits then a zero bit, 1 <= m <= 8: the number of 4-bit chunks
//   4m bits d - base(m), most significant chunk first; base(m) = 16 + 16^2 + ... + 16^(m-1)
// so d < 16 costs 6 raw bits, d < 272 costs 11, and any int32 fits (d < 2^32).
// Tables must be valid (from make_cdf_table, make_gaussian_tables or unflatten_tables).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "entropy/cdf_table.h"
#include "entropy/rans.h"

namespace nic {

class SymbolEncoder {
 public:
  void encode(int32_t value, const CdfTable& table);
  // Raw bits with uniform probability, 0 <= nbits <= 16.
  void encode_bits(uint32_t value, int nbits) { rans_.put_bits(value, nbits); }
  // Returns the stream and resets the encoder.
  std::vector<uint8_t> finish() { return rans_.finish(); }

  // Exact cost of encode(value, table) in bits, escape payload included. A finished stream takes
  // about 4 to 8 bytes (the flushed state) more than the sum of its costs.
  static double cost_bits(int32_t value, const CdfTable& table);

 private:
  RansEncoder rans_;
};

// Decodes a SymbolEncoder stream; tables must match the encoder's call for call. Safe on any
// input: garbage decodes to some int32 values or throws Error(NIC_ERROR_CORRUPT).
class SymbolDecoder {
 public:
  SymbolDecoder(const uint8_t* data, size_t size) : rans_(data, size) {}

  int32_t decode(const CdfTable& table);
  uint32_t decode_bits(int nbits) { return rans_.get_bits(nbits); }

  bool overrun() const { return rans_.overrun(); }
  // Call after the last symbol. Throws Error(NIC_ERROR_TRUNCATED) if the data ran out, and
  // Error(NIC_ERROR_CORRUPT) if bytes are left over or the final state is wrong (the stream was
  // not produced by the matching sequence of encode calls).
  void check_finished() const;

 private:
  int32_t decode_escape(const CdfTable& table);

  RansDecoder rans_;
};

}  // namespace nic
