// Fuzz target: the symbol decoder (rANS with escapes) on arbitrary streams, with the codec's own
// Gaussian tables. The first input byte picks the table sequence; the rest is the stream.
// Garbage must decode to some values or throw Error, never read out of bounds or hang.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/error.h"
#include "entropy/cdf_table.h"
#include "entropy/symbol_coder.h"

namespace {

const std::vector<nic::CdfTable>& tables() {
  static const std::vector<nic::CdfTable> t = nic::make_gaussian_tables(nic::nic_sigma_ladder());
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t selector = data[0];
  nic::SymbolDecoder decoder(data + 1, size - 1);
  const std::vector<nic::CdfTable>& t = tables();
  try {
    // Up to 4 symbols per input byte (an escape takes many bits), tables walking the ladder.
    const size_t symbols = 4 * size + 8;
    for (size_t i = 0; i < symbols && !decoder.overrun(); ++i) {
      const nic::CdfTable& table = t[(selector + i * (1 + selector % 7)) % t.size()];
      decoder.decode(table);
      if (i % 16 == 15) decoder.decode_bits(int(i % 17));
    }
    decoder.check_finished();
  } catch (const nic::Error&) {
  }
  return 0;
}
