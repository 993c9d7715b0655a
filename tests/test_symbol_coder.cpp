#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <limits>
#include <random>
#include <vector>

#include "common/error.h"
#include "entropy/symbol_coder.h"

namespace nic {
namespace {

constexpr int32_t kInt32Min = std::numeric_limits<int32_t>::min();
constexpr int32_t kInt32Max = std::numeric_limits<int32_t>::max();

const std::vector<CdfTable>& ladder_tables() {
  static const std::vector<CdfTable> tables = make_gaussian_tables(nic_sigma_ladder());
  return tables;
}

// A value drawn roughly from the table's own distribution, sometimes far outside it.
int32_t sample(std::mt19937& rng, double sigma) {
  std::normal_distribution<double> normal(0.0, sigma);
  switch (rng() % 100) {
    case 0:
      return static_cast<int32_t>(rng());  // any int32
    case 1:
      return static_cast<int32_t>(std::lround(normal(rng) * 20.0));
    default:
      return static_cast<int32_t>(std::lround(normal(rng)));
  }
}

struct Coded {
  std::vector<size_t> table_index;
  std::vector<int32_t> values;
  std::vector<uint8_t> data;
  double cost_bits = 0.0;
};

Coded encode_random(std::mt19937& rng, size_t count) {
  const std::vector<CdfTable>& tables = ladder_tables();
  const std::vector<double> sigmas = nic_sigma_ladder();
  Coded coded;
  SymbolEncoder enc;
  for (size_t i = 0; i < count; ++i) {
    const size_t t = rng() % tables.size();
    const int32_t value = sample(rng, sigmas[t]);
    coded.table_index.push_back(t);
    coded.values.push_back(value);
    coded.cost_bits += SymbolEncoder::cost_bits(value, tables[t]);
    enc.encode(value, tables[t]);
  }
  coded.data = enc.finish();
  return coded;
}

void expect_overhead_within_state_flush(size_t bytes, double cost_bits) {
  EXPECT_GE(static_cast<double>(bytes), cost_bits / 8.0 + 3.0);
  EXPECT_LE(static_cast<double>(bytes), cost_bits / 8.0 + 9.0);
}

TEST(SymbolCoder, RandomRoundTripOverTheLadder) {
  std::mt19937 rng(2024);
  for (int trial = 0; trial < 10; ++trial) {
    const Coded coded = encode_random(rng, 1 + rng() % 50000);
    expect_overhead_within_state_flush(coded.data.size(), coded.cost_bits);
    SymbolDecoder dec(coded.data.data(), coded.data.size());
    for (size_t i = 0; i < coded.values.size(); ++i) {
      ASSERT_EQ(dec.decode(ladder_tables()[coded.table_index[i]]), coded.values[i]) << "i " << i;
    }
    EXPECT_NO_THROW(dec.check_finished());
  }
}

TEST(SymbolCoder, ExtremeScales) {
  const std::vector<CdfTable> tables = make_gaussian_tables({0.125, 64.0});
  for (size_t t = 0; t < 2; ++t) {
    const double sigma = t == 0 ? 0.125 : 64.0;
    std::mt19937 rng(static_cast<unsigned>(t));
    std::normal_distribution<double> normal(0.0, sigma);
    std::vector<int32_t> values(100000);
    SymbolEncoder enc;
    double cost = 0.0;
    for (int32_t& v : values) {
      v = static_cast<int32_t>(std::lround(normal(rng)));
      cost += SymbolEncoder::cost_bits(v, tables[t]);
      enc.encode(v, tables[t]);
    }
    const std::vector<uint8_t> data = enc.finish();
    expect_overhead_within_state_flush(data.size(), cost);
    // Close to the Gaussian's entropy: ~0.0009 bits at sigma 0.125, ~8.05 bits at sigma 64.
    const double bits_per_value = 8.0 * data.size() / values.size();
    EXPECT_NEAR(bits_per_value, t == 0 ? 0.0 : 8.05, t == 0 ? 0.01 : 0.05);
    SymbolDecoder dec(data.data(), data.size());
    for (size_t i = 0; i < values.size(); ++i) ASSERT_EQ(dec.decode(tables[t]), values[i]);
    EXPECT_NO_THROW(dec.check_finished());
  }
}

TEST(SymbolCoder, EscapesAnyInt32) {
  const CdfTable& table = ladder_tables()[24];  // sigma 1, values -7 .. 7
  const int32_t radius = -table.offset;
  std::vector<int32_t> values = {kInt32Min, kInt32Max,  kInt32Min + 1, kInt32Max - 1, 0,
                                 radius,    radius + 1, -radius - 1,   -radius};
  // Every chunk-count boundary on both sides.
  int64_t base = 0;
  for (int m = 1; m <= 8; ++m) {
    for (int64_t d : {base - 1, base, base + 1}) {
      if (d < 0) continue;
      for (int64_t v : {radius + 1 + d, -radius - 1 - d}) {
        if (v >= kInt32Min && v <= kInt32Max) values.push_back(static_cast<int32_t>(v));
      }
    }
    base += int64_t{1} << (4 * m);
  }
  std::vector<CdfTable> tables = {table, make_cdf_table(kInt32Max, {1.0}, 0.1),
                                  make_cdf_table(kInt32Min, {1.0, 1.0}, 0.1),
                                  make_cdf_table(0, {}, 0.0)};
  SymbolEncoder enc;
  double cost = 0.0;
  for (const CdfTable& t : tables) {
    for (int32_t v : values) {
      cost += SymbolEncoder::cost_bits(v, t);
      enc.encode(v, t);
    }
  }
  const std::vector<uint8_t> data = enc.finish();
  expect_overhead_within_state_flush(data.size(), cost);
  SymbolDecoder dec(data.data(), data.size());
  for (const CdfTable& t : tables) {
    for (int32_t v : values) ASSERT_EQ(dec.decode(t), v);
  }
  EXPECT_NO_THROW(dec.check_finished());
}

TEST(SymbolCoder, EscapeCost) {
  const CdfTable table = make_cdf_table(0, {1.0, 1.0, 1.0}, 1.0);  // every frequency 2^14
  EXPECT_DOUBLE_EQ(SymbolEncoder::cost_bits(1, table), 2.0);
  EXPECT_DOUBLE_EQ(SymbolEncoder::cost_bits(3, table), 2.0 + 1 + 1 + 4);    // excess 0
  EXPECT_DOUBLE_EQ(SymbolEncoder::cost_bits(-16, table), 2.0 + 1 + 1 + 4);  // excess 15
  EXPECT_DOUBLE_EQ(SymbolEncoder::cost_bits(19, table), 2.0 + 1 + 2 + 8);   // excess 16
  EXPECT_DOUBLE_EQ(SymbolEncoder::cost_bits(kInt32Min, table), 2.0 + 1 + 8 + 32);
}

TEST(SymbolCoder, InterleavedRawBits) {
  const CdfTable& table = ladder_tables()[40];
  std::mt19937 rng(3);
  std::vector<uint32_t> raw(5000);
  std::vector<int32_t> values(5000);
  SymbolEncoder enc;
  for (size_t i = 0; i < raw.size(); ++i) {
    raw[i] = rng() & 0xFFFF;
    values[i] = sample(rng, 4.0);
    enc.encode_bits(raw[i] >> (i % 17), 16 - static_cast<int>(i % 17));
    enc.encode(values[i], table);
  }
  const std::vector<uint8_t> data = enc.finish();
  SymbolDecoder dec(data.data(), data.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    ASSERT_EQ(dec.decode_bits(16 - static_cast<int>(i % 17)), raw[i] >> (i % 17));
    ASSERT_EQ(dec.decode(table), values[i]);
  }
  EXPECT_NO_THROW(dec.check_finished());
}

TEST(SymbolCoder, EmptyStream) {
  SymbolEncoder enc;
  const std::vector<uint8_t> data = enc.finish();
  EXPECT_EQ(data.size(), 8u);
  SymbolDecoder dec(data.data(), data.size());
  EXPECT_NO_THROW(dec.check_finished());

  SymbolDecoder nothing(nullptr, 0);
  try {
    nothing.check_finished();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), NIC_ERROR_TRUNCATED);
  }
}

TEST(SymbolCoder, CheckFinishedDetectsMismatch) {
  const CdfTable& table = ladder_tables()[30];
  SymbolEncoder enc;
  for (int i = 0; i < 1000; ++i) enc.encode(i % 7 - 3, table);
  const std::vector<uint8_t> data = enc.finish();
  // Decoding too few symbols leaves the stream unfinished.
  SymbolDecoder dec(data.data(), data.size());
  for (int i = 0; i < 999; ++i) dec.decode(table);
  try {
    dec.check_finished();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), NIC_ERROR_CORRUPT);
  }
}

TEST(SymbolCoder, ImpossibleEscapesThrowCorrupt) {
  const CdfTable table = make_cdf_table(0, {1.0, 1.0, 1.0}, 1.0);
  auto escape = [&](RansEncoder& enc) {
    enc.put(table.cdf[3], kProbabilityTotal - table.cdf[3], kProbabilityBits);
  };
  {  // nine chunks
    RansEncoder enc;
    escape(enc);
    enc.put_bits(0, 1);
    for (int i = 0; i < 8; ++i) enc.put_bits(1, 1);
    enc.put_bits(0, 1);
    const std::vector<uint8_t> data = enc.finish();
    SymbolDecoder dec(data.data(), data.size());
    try {
      dec.decode(table);
      FAIL();
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), NIC_ERROR_CORRUPT);
    }
  }
  {  // eight chunks of all ones: far beyond int32
    RansEncoder enc;
    escape(enc);
    enc.put_bits(0, 1);
    for (int i = 0; i < 7; ++i) enc.put_bits(1, 1);
    enc.put_bits(0, 1);
    for (int i = 0; i < 8; ++i) enc.put_bits(15, 4);
    const std::vector<uint8_t> data = enc.finish();
    SymbolDecoder dec(data.data(), data.size());
    try {
      dec.decode(table);
      FAIL();
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), NIC_ERROR_CORRUPT);
    }
  }
}

// Decodes up to count symbols; returns normally or throws nic::Error, never anything else.
void decode_garbage(const std::vector<uint8_t>& data, const std::vector<size_t>& table_index) {
  SymbolDecoder dec(data.data(), data.size());
  for (size_t t : table_index) dec.decode(ladder_tables()[t]);
  dec.check_finished();
}

TEST(SymbolCoder, TruncatedInputFailsCleanly) {
  std::mt19937 rng(11);
  const Coded coded = encode_random(rng, 20000);
  const size_t size = coded.data.size();
  for (size_t cut : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{12}, size / 3, size / 2,
                     size - 4, size - 1}) {
    const std::vector<uint8_t> truncated(coded.data.begin(), coded.data.begin() + cut);
    try {
      decode_garbage(truncated, coded.table_index);
      ADD_FAILURE() << "truncation at " << cut << " not detected";
    } catch (const Error& e) {
      EXPECT_TRUE(e.status() == NIC_ERROR_TRUNCATED || e.status() == NIC_ERROR_CORRUPT);
    }
  }
}

TEST(SymbolCoder, RandomGarbageNeverCrashes) {
  std::mt19937 rng(12);
  std::vector<size_t> table_index(3000);
  for (size_t& t : table_index) t = rng() % ladder_tables().size();
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<uint8_t> data(rng() % 4000);
    for (uint8_t& b : data) b = static_cast<uint8_t>(rng());
    // Escape-heavy garbage too: a stream of 0xFF bytes hits the escape symbol repeatedly.
    if (trial % 10 == 0) std::fill(data.begin(), data.end(), 0xFF);
    try {
      decode_garbage(data, table_index);
      ADD_FAILURE() << "garbage accepted";
    } catch (const Error& e) {
      EXPECT_TRUE(e.status() == NIC_ERROR_TRUNCATED || e.status() == NIC_ERROR_CORRUPT);
    }
  }
}

TEST(SymbolCoder, CorruptedBytesFailCleanly) {
  std::mt19937 rng(13);
  const Coded coded = encode_random(rng, 5000);
  int undetected = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<uint8_t> data = coded.data;
    data[rng() % data.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    try {
      decode_garbage(data, coded.table_index);
      ++undetected;
    } catch (const Error& e) {
      EXPECT_TRUE(e.status() == NIC_ERROR_TRUNCATED || e.status() == NIC_ERROR_CORRUPT);
    }
  }
  // Escape payloads are raw bits stored nearly verbatim, so flipping them can go unnoticed (the
  // frame CRC catches that); everything else disturbs the final state.
  EXPECT_LT(undetected, 40);
}

TEST(SymbolCoder, DecodeThroughput) {
  const std::vector<CdfTable>& tables = ladder_tables();
  std::mt19937 rng(14);
  const std::vector<double> sigmas = nic_sigma_ladder();
  const size_t count = 1000000;
  std::vector<size_t> table_index(count);
  std::vector<int32_t> values(count);
  for (size_t i = 0; i < count; ++i) {
    table_index[i] = 8 + rng() % 40;  // sigma 0.25 .. 8: typical latents
    std::normal_distribution<double> normal(0.0, sigmas[table_index[i]]);
    values[i] = static_cast<int32_t>(std::lround(normal(rng)));
  }
  const auto t0 = std::chrono::steady_clock::now();
  SymbolEncoder enc;
  for (size_t i = 0; i < count; ++i) enc.encode(values[i], tables[table_index[i]]);
  const std::vector<uint8_t> data = enc.finish();
  const auto t1 = std::chrono::steady_clock::now();
  SymbolDecoder dec(data.data(), data.size());
  size_t mismatches = 0;
  for (size_t i = 0; i < count; ++i) mismatches += dec.decode(tables[table_index[i]]) != values[i];
  const auto t2 = std::chrono::steady_clock::now();
  EXPECT_EQ(mismatches, 0u);
  EXPECT_NO_THROW(dec.check_finished());
  const double encode_s = std::chrono::duration<double>(t1 - t0).count();
  const double decode_s = std::chrono::duration<double>(t2 - t1).count();
  std::cout << "encode: " << count / encode_s / 1e6
            << " M symbols/s, decode: " << count / decode_s / 1e6 << " M symbols/s\n";
}

}  // namespace
}  // namespace nic
