#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "common/error.h"
#include "entropy/rans.h"

namespace nic {
namespace {

struct Op {
  bool raw;
  uint32_t start;  // or the raw value
  uint32_t freq;
  int bits;
};

std::vector<Op> random_ops(std::mt19937& rng, size_t count) {
  std::vector<Op> ops;
  for (size_t i = 0; i < count; ++i) {
    Op op{};
    op.raw = rng() % 4 == 0;
    if (op.raw) {
      op.bits = static_cast<int>(rng() % 17);
      op.start = op.bits == 0 ? 0 : rng() & ((1u << op.bits) - 1);
      op.freq = 1;
    } else {
      op.bits = 1 + static_cast<int>(rng() % kProbabilityBits);
      const uint32_t total = 1u << op.bits;
      // Mix of tiny, large and full-range frequencies.
      switch (rng() % 3) {
        case 0:
          op.freq = 1;
          break;
        case 1:
          op.freq = total;
          break;
        default:
          op.freq = 1 + rng() % total;
          break;
      }
      op.start = rng() % (total - op.freq + 1);
    }
    ops.push_back(op);
  }
  return ops;
}

void encode(RansEncoder& enc, const std::vector<Op>& ops) {
  for (const Op& op : ops) {
    if (op.raw) {
      enc.put_bits(op.start, op.bits);
    } else {
      enc.put(op.start, op.freq, op.bits);
    }
  }
}

TEST(Rans, RandomRoundTrip) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 20; ++trial) {
    const std::vector<Op> ops = random_ops(rng, 1 + rng() % 20000);
    RansEncoder enc;
    encode(enc, ops);
    const size_t zero_bit_ops =
        std::count_if(ops.begin(), ops.end(), [](const Op& op) { return op.raw && op.bits == 0; });
    EXPECT_EQ(enc.pending(), ops.size() - zero_bit_ops);
    const std::vector<uint8_t> data = enc.finish();
    EXPECT_EQ(enc.pending(), 0u);
    ASSERT_EQ(data.size() % 4, 0u);

    RansDecoder dec(data.data(), data.size());
    for (size_t i = 0; i < ops.size(); ++i) {
      const Op& op = ops[i];
      if (op.raw) {
        ASSERT_EQ(dec.get_bits(op.bits), op.start) << "op " << i;
      } else {
        const uint32_t slot = dec.peek(op.bits);
        ASSERT_GE(slot, op.start) << "op " << i;
        ASSERT_LT(slot, op.start + op.freq) << "op " << i;
        dec.advance(op.start, op.freq, op.bits);
      }
    }
    EXPECT_FALSE(dec.overrun());
    EXPECT_TRUE(dec.ended_cleanly());
  }
}

TEST(Rans, EmptyStreamIsTheInitialStateLittleEndian) {
  RansEncoder enc;
  const std::vector<uint8_t> data = enc.finish();
  const std::vector<uint8_t> expected = {0, 0, 0, 0x80, 0, 0, 0, 0};
  EXPECT_EQ(data, expected);
  RansDecoder dec(data.data(), data.size());
  EXPECT_TRUE(dec.ended_cleanly());
}

TEST(Rans, BypassValuesCostTheirBits) {
  RansEncoder enc;
  size_t total_bits = 0;
  for (int round = 0; round < 200; ++round) {
    for (int nbits = 0; nbits <= 16; ++nbits) {
      enc.put_bits(0xFFFFu, nbits);  // extra high bits are ignored
      enc.put_bits(round, nbits);
      total_bits += 2 * nbits;
    }
  }
  const std::vector<uint8_t> data = enc.finish();
  EXPECT_LE(data.size(), total_bits / 8 + 8);
  EXPECT_GE(data.size(), total_bits / 8 + 3);
  RansDecoder dec(data.data(), data.size());
  for (int round = 0; round < 200; ++round) {
    for (int nbits = 0; nbits <= 16; ++nbits) {
      const uint32_t mask = nbits == 0 ? 0 : (1u << nbits) - 1;
      ASSERT_EQ(dec.get_bits(nbits), 0xFFFFu & mask);
      ASSERT_EQ(dec.get_bits(nbits), static_cast<uint32_t>(round) & mask);
    }
  }
  EXPECT_TRUE(dec.ended_cleanly());
}

TEST(Rans, EncoderIsReusableAfterFinish) {
  RansEncoder enc;
  enc.put(3, 5, 4);
  const std::vector<uint8_t> first = enc.finish();
  enc.put(3, 5, 4);
  EXPECT_EQ(enc.finish(), first);
}

TEST(Rans, RejectsInvalidOperations) {
  RansEncoder enc;
  EXPECT_THROW(enc.put(0, 0, 8), Error);
  EXPECT_THROW(enc.put(200, 100, 8), Error);
  EXPECT_THROW(enc.put(0, 1, 0), Error);
  EXPECT_THROW(enc.put(0, 1, 17), Error);
  EXPECT_THROW(enc.put_bits(0, 17), Error);
  EXPECT_THROW(enc.put_bits(0, -1), Error);
  EXPECT_EQ(enc.pending(), 0u);
}

TEST(Rans, ShortInputReadsZerosAndFlagsOverrun) {
  RansDecoder empty(nullptr, 0);
  EXPECT_TRUE(empty.overrun());
  EXPECT_FALSE(empty.ended_cleanly());
  EXPECT_EQ(empty.peek(16), 0u);

  const uint8_t bytes[5] = {1, 2, 3, 4, 5};
  for (size_t size = 0; size <= 5; ++size) {
    RansDecoder dec(bytes, size);
    EXPECT_TRUE(dec.overrun());
    for (int i = 0; i < 1000; ++i) dec.get_bits(16);  // keeps feeding zeros
    EXPECT_FALSE(dec.ended_cleanly());
  }
}

TEST(Rans, TruncatedStreamOverruns) {
  std::mt19937 rng(7);
  const std::vector<Op> ops = random_ops(rng, 5000);
  RansEncoder enc;
  encode(enc, ops);
  const std::vector<uint8_t> data = enc.finish();
  for (size_t cut :
       {size_t{0}, size_t{3}, size_t{8}, size_t{9}, data.size() / 2, data.size() - 1}) {
    // A copy of exactly the truncated size, so ASan catches any read past it.
    const std::vector<uint8_t> truncated(data.begin(), data.begin() + cut);
    RansDecoder dec(truncated.data(), truncated.size());
    for (const Op& op : ops) {
      if (op.raw) {
        dec.get_bits(op.bits);
      } else {
        dec.advance(op.start, op.freq, op.bits);
      }
    }
    EXPECT_TRUE(dec.overrun()) << "cut " << cut;
    EXPECT_FALSE(dec.ended_cleanly()) << "cut " << cut;
  }
}

TEST(Rans, TrailingBytesAreNotACleanEnd) {
  RansEncoder enc;
  enc.put(1, 2, 3);
  std::vector<uint8_t> data = enc.finish();
  data.push_back(0);
  RansDecoder dec(data.data(), data.size());
  dec.advance(1, 2, 3);
  EXPECT_FALSE(dec.overrun());
  EXPECT_FALSE(dec.ended_cleanly());
}

}  // namespace
}  // namespace nic
