#include "entropy/rans.h"

#include <string>

#include "common/error.h"

namespace nic {

void RansEncoder::put(uint32_t start, uint32_t freq, int scale_bits) {
  // Checked always: a bad operation would silently produce an undecodable stream.
  if (scale_bits < 1 || scale_bits > kProbabilityBits || freq == 0 ||
      uint64_t{start} + freq > (uint64_t{1} << scale_bits)) {
    throw Error(NIC_ERROR_INTERNAL, "rANS: invalid symbol range [" + std::to_string(start) + ", +" +
                                        std::to_string(freq) + ") of 2^" +
                                        std::to_string(scale_bits));
  }
  ops_.push_back(Op{freq, static_cast<uint16_t>(start), static_cast<uint8_t>(scale_bits)});
}

void RansEncoder::put_bits(uint32_t value, int nbits) {
  if (nbits == 0) return;
  if (nbits < 0 || nbits > kProbabilityBits) {
    throw Error(NIC_ERROR_INTERNAL, "rANS: cannot code " + std::to_string(nbits) + " raw bits");
  }
  const uint32_t mask = (1u << nbits) - 1;
  ops_.push_back(Op{1, static_cast<uint16_t>(value & mask), static_cast<uint8_t>(nbits)});
}

std::vector<uint8_t> RansEncoder::finish() {
  constexpr uint64_t kLower = RansDecoder::kLowerBound;
  std::vector<uint32_t> words;  // in emission order, i.e. reverse of decoding order
  words.reserve(ops_.size() / 2 + 1);
  uint64_t state = kLower;
  for (auto op = ops_.rbegin(); op != ops_.rend(); ++op) {
    // Keeps the state below 2^63 after coding; cannot overflow since freq <= 2^scale_bits.
    const uint64_t limit = ((kLower >> op->scale_bits) << 32) * op->freq;
    if (state >= limit) {
      words.push_back(static_cast<uint32_t>(state));
      state >>= 32;
    }
    state = ((state / op->freq) << op->scale_bits) + state % op->freq + op->start;
  }
  ops_.clear();

  std::vector<uint8_t> out(8 + 4 * words.size());
  uint8_t* p = out.data();
  for (int i = 0; i < 8; ++i) *p++ = static_cast<uint8_t>(state >> (8 * i));
  for (auto w = words.rbegin(); w != words.rend(); ++w) {
    for (int i = 0; i < 4; ++i) *p++ = static_cast<uint8_t>(*w >> (8 * i));
  }
  return out;
}

RansDecoder::RansDecoder(const uint8_t* data, size_t size)
    : data_(data), size_(data == nullptr ? 0 : size) {
  const uint64_t low = read_word();
  const uint64_t high = read_word();
  state_ = low | high << 32;
}

uint32_t RansDecoder::read_word_past_end() {
  uint32_t word = 0;
  for (int i = 0; pos_ < size_; ++i) word |= uint32_t{data_[pos_++]} << (8 * i);
  overrun_ = true;
  return word;
}

}  // namespace nic
