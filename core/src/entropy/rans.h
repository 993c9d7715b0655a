// rANS entropy coder: 64-bit state, 32-bit renormalization, probabilities of up to 16 bits.
//
// Stream layout (all little-endian): the final encoder state as one uint64, then the
// renormalization words as uint32 in the order the decoder consumes them. An encoder that coded
// nothing still emits the 8-byte state, so a valid stream is never shorter than 8 bytes.
//
// rANS is last-in first-out; RansEncoder buffers the operations and codes them backwards in
// finish(), so the decoder returns them in the order they were put.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nic {

constexpr int kProbabilityBits = 16;
constexpr uint32_t kProbabilityTotal = 1u << kProbabilityBits;

class RansEncoder {
 public:
  // Codes a symbol occupying [start, start + freq) out of 2^scale_bits.
  // Requires 1 <= scale_bits <= 16, freq >= 1, start + freq <= 2^scale_bits.
  void put(uint32_t start, uint32_t freq, int scale_bits);
  // Codes the low nbits of value with uniform probability; 0 <= nbits <= 16.
  void put_bits(uint32_t value, int nbits);
  // Number of operations buffered since the last finish().
  size_t pending() const { return ops_.size(); }
  // Returns the stream and resets the encoder for reuse.
  std::vector<uint8_t> finish();

 private:
  struct Op {
    uint32_t freq;
    uint16_t start;
    uint8_t scale_bits;
  };
  std::vector<Op> ops_;
};

// Reads a stream produced by RansEncoder. Never reads outside [data, data + size): past the end it
// feeds zero bytes and sets overrun(), so corrupt or truncated input yields garbage symbols, not
// crashes. The caller's get/advance sequence must mirror the encoder's put sequence.
class RansDecoder {
 public:
  RansDecoder(const uint8_t* data, size_t size);

  // The slot in [0, 2^scale_bits) of the next symbol; follow with advance() for the symbol found.
  uint32_t peek(int scale_bits) const {
    return static_cast<uint32_t>(state_) & ((1u << scale_bits) - 1);
  }
  // Removes the symbol [start, start + freq) whose range contains peek(scale_bits).
  void advance(uint32_t start, uint32_t freq, int scale_bits) {
    const uint64_t mask = (uint64_t{1} << scale_bits) - 1;
    state_ = freq * (state_ >> scale_bits) + (state_ & mask) - start;
    if (state_ < kLowerBound) state_ = (state_ << 32) | read_word();
  }
  // Inverse of RansEncoder::put_bits.
  uint32_t get_bits(int nbits) {
    if (nbits <= 0) return 0;
    const uint32_t value = peek(nbits);
    advance(value, 1, nbits);
    return value;
  }

  // True once the decoder needed bytes beyond the end of the data.
  bool overrun() const { return overrun_; }
  // True if everything decoded so far is exactly what an encoder produced: all bytes consumed,
  // none missing, and the state back at its initial value. Meaningful after the last symbol.
  bool ended_cleanly() const { return !overrun_ && pos_ == size_ && state_ == kLowerBound; }

  static constexpr uint64_t kLowerBound = uint64_t{1} << 31;

 private:
  uint32_t read_word() {
    if (size_ - pos_ >= 4) {
      const uint8_t* p = data_ + pos_;
      pos_ += 4;
      return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
    }
    return read_word_past_end();
  }
  uint32_t read_word_past_end();

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  uint64_t state_ = 0;
  bool overrun_ = false;
};

}  // namespace nic
