#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "bitstream/crc32.h"
#include "bitstream/frame_header.h"
#include "common/error.h"

namespace {

using Substreams = std::vector<std::vector<uint8_t>>;

nic::FrameHeader sample_header() {
  nic::FrameHeader header;
  header.width = 17;
  header.height = 33;
  header.model_fingerprint = 0x0123456789ABCDEFull;
  header.qp_fixed = nic::FrameHeader::qp_to_fixed(12.5f);
  return header;
}

Substreams sample_substreams() { return {{1, 2, 3}, {}, {4, 5, 6, 7, 8}}; }

// Rewrites the trailing CRC so a patched field is what the parser trips on.
void fix_crc(std::vector<uint8_t>& frame) {
  const uint32_t crc = nic::crc32(frame.data(), frame.size() - 4);
  for (int i = 0; i < 4; ++i) frame[frame.size() - 4 + i] = uint8_t(crc >> (8 * i));
}

NicStatus parse_status(const std::vector<uint8_t>& bytes, std::string* message = nullptr) {
  try {
    nic::parse_frame(bytes.data(), bytes.size());
    return NIC_OK;
  } catch (const nic::Error& e) {
    if (message != nullptr) *message = e.what();
    return e.status();
  }
}

TEST(Crc32, KnownValuesAndIncremental) {
  const std::string check = "123456789";
  const auto* bytes = reinterpret_cast<const uint8_t*>(check.data());
  EXPECT_EQ(nic::crc32(bytes, check.size()), 0xCBF43926u);
  EXPECT_EQ(nic::crc32(nullptr, 0), 0u);
  EXPECT_EQ(nic::crc32(bytes + 4, 5, nic::crc32(bytes, 4)), 0xCBF43926u);
  const uint8_t zeros[32] = {};
  EXPECT_EQ(nic::crc32(zeros, 32), 0x190A55ADu);
}

TEST(FrameHeader, RoundTrip) {
  for (uint8_t version : {1, 2}) {
    SCOPED_TRACE("version " + std::to_string(version));
    auto header = sample_header();
    header.version = version;
    const auto substreams = sample_substreams();
    const auto bytes = nic::write_frame(header, substreams);
    ASSERT_EQ(bytes.size(), 22u + 3 * 4 + 8 + 4);
    EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 4), "NICF");

    const nic::ParsedFrame frame = nic::parse_frame(bytes.data(), bytes.size());
    EXPECT_EQ(frame.header.version, version);
    EXPECT_EQ(frame.header.flags, 0);
    EXPECT_EQ(frame.header.width, 17u);
    EXPECT_EQ(frame.header.height, 33u);
    EXPECT_EQ(frame.header.colour_format, 0);
    EXPECT_EQ(frame.header.model_fingerprint, 0x0123456789ABCDEFull);
    EXPECT_EQ(frame.header.qp_fixed, 3200);
    EXPECT_FLOAT_EQ(frame.header.qp(), 12.5f);
    EXPECT_EQ(frame.header.substream_sizes, (std::vector<uint32_t>{3, 0, 5}));
    EXPECT_EQ(frame.header.header_size(), 34u);
    EXPECT_EQ(frame.header.frame_size(), bytes.size());
    ASSERT_EQ(frame.substreams.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(std::vector<uint8_t>(frame.substreams[i].first,
                                     frame.substreams[i].first + frame.substreams[i].second),
                substreams[i]);
    }
    // Byte layout of the fixed fields (little-endian).
    EXPECT_EQ(bytes[6], 17);
    EXPECT_EQ(bytes[7], 0);
    EXPECT_EQ(bytes[11], 0xEF);
    EXPECT_EQ(bytes[18], 0x01);
    EXPECT_EQ(bytes[19], 3200 & 0xFF);
    EXPECT_EQ(bytes[20], 3200 >> 8);
    EXPECT_EQ(bytes[21], 3);
  }
}

TEST(FrameHeader, ConcatenatedFramesParseInSequence) {
  auto a = nic::write_frame(sample_header(), sample_substreams());
  auto header_b = sample_header();
  header_b.width = 1;
  header_b.height = 1;
  header_b.qp_fixed = 0;
  const auto b = nic::write_frame(header_b, {{9}});
  std::vector<uint8_t> stream = a;
  stream.insert(stream.end(), b.begin(), b.end());
  const auto first = nic::parse_frame(stream.data(), stream.size());
  EXPECT_EQ(first.header.width, 17u);
  const size_t next = first.header.frame_size();
  const auto second = nic::parse_frame(stream.data() + next, stream.size() - next);
  EXPECT_EQ(second.header.width, 1u);
  EXPECT_EQ(next + second.header.frame_size(), stream.size());
}

TEST(FrameHeader, QpFixedPoint) {
  using nic::FrameHeader;
  EXPECT_EQ(FrameHeader::qp_to_fixed(0.0f), 0);
  EXPECT_EQ(FrameHeader::qp_to_fixed(63.0f), 16128);
  EXPECT_EQ(FrameHeader::qp_to_fixed(1.0f / 512), 1);  // rounds half away from zero
  EXPECT_EQ(FrameHeader::qp_to_fixed(0.001f), 0);
  EXPECT_EQ(FrameHeader::qp_to_fixed(22.3f), 5709);
  for (float bad : {-0.01f, 63.01f, NAN, INFINITY}) {
    try {
      FrameHeader::qp_to_fixed(bad);
      ADD_FAILURE() << "qp " << bad << " accepted";
    } catch (const nic::Error& e) {
      EXPECT_EQ(e.status(), NIC_ERROR_INVALID_ARGUMENT);
    }
  }
}

TEST(FrameHeader, WriterRejectsOutOfRangeFields) {
  auto expect_invalid = [](const nic::FrameHeader& header, const Substreams& substreams,
                           const std::string& fragment) {
    try {
      nic::write_frame(header, substreams);
      ADD_FAILURE() << "accepted; expected: " << fragment;
    } catch (const nic::Error& e) {
      EXPECT_EQ(e.status(), NIC_ERROR_INVALID_ARGUMENT);
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  const auto substreams = sample_substreams();
  auto h = sample_header();
  h.version = 3;
  expect_invalid(h, substreams, "version 3");
  h = sample_header();
  h.flags = 1;
  expect_invalid(h, substreams, "flags 0x01");
  for (uint32_t width : {0u, 16385u, 70000u}) {
    h = sample_header();
    h.width = width;
    expect_invalid(h, substreams, "width " + std::to_string(width) + " is invalid");
  }
  h = sample_header();
  h.height = 0;
  expect_invalid(h, substreams, "height 0 is invalid");
  h = sample_header();
  h.colour_format = 1;
  expect_invalid(h, substreams, "colour format 1");
  h = sample_header();
  h.qp_fixed = 16129;
  expect_invalid(h, substreams, "qp_fixed 16129");
  expect_invalid(sample_header(), {}, "0 substreams");
  expect_invalid(sample_header(), Substreams(33), "33 substreams");
  h = sample_header();
  h.width = 1;
  h.height = 1;
  expect_invalid(h, {std::vector<uint8_t>(nic::max_frame_payload(1, 1) + 1)}, "exceeds the");

  // The extremes are accepted.
  h = sample_header();
  h.width = 16384;
  h.height = 1;
  h.qp_fixed = 16128;
  const auto bytes = nic::write_frame(h, Substreams(32, std::vector<uint8_t>{7}));
  const auto frame = nic::parse_frame(bytes.data(), bytes.size());
  EXPECT_EQ(frame.header.width, 16384u);
  EXPECT_EQ(frame.header.qp(), 63.0f);
  EXPECT_EQ(frame.substreams.size(), 32u);
}

TEST(FrameHeader, ParserRejectsOutOfRangeFields) {
  const auto good = nic::write_frame(sample_header(), sample_substreams());
  struct Case {
    size_t offset;
    std::vector<uint8_t> value;
    NicStatus status;
    std::string fragment;
  };
  const Case cases[] = {
      {0, {'N', 'I', 'C', 'G'}, NIC_ERROR_CORRUPT, "bad magic 0x4e494347"},
      {4, {0}, NIC_ERROR_CORRUPT, "version 0 is invalid"},
      {4, {3}, NIC_ERROR_UNSUPPORTED, "version 3 is newer"},
      {5, {0x80}, NIC_ERROR_UNSUPPORTED, "flags 0x80"},
      {6, {0, 0}, NIC_ERROR_CORRUPT, "width 0 is invalid"},
      {6, {0x01, 0x40}, NIC_ERROR_CORRUPT, "width 16385 is invalid"},
      {8, {0xFF, 0xFF}, NIC_ERROR_CORRUPT, "height 65535 is invalid"},
      {10, {1}, NIC_ERROR_UNSUPPORTED, "colour format 1"},
      {19, {0x01, 0x3F}, NIC_ERROR_CORRUPT, "qp 63.004 (16129/256) is out of range"},
      {21, {0}, NIC_ERROR_CORRUPT, "substream count 0"},
      {21, {33}, NIC_ERROR_CORRUPT, "substream count 33"},
      {22, {0xFF, 0xFF, 0xFF, 0xFF}, NIC_ERROR_CORRUPT, "substream sizes total"},
  };
  for (const auto& c : cases) {
    auto bytes = good;
    std::memcpy(bytes.data() + c.offset, c.value.data(), c.value.size());
    fix_crc(bytes);
    std::string message;
    EXPECT_EQ(parse_status(bytes, &message), c.status) << c.fragment << ": " << message;
    EXPECT_NE(message.find(c.fragment), std::string::npos) << message;
  }
  // qp 63 exactly and a different fingerprint are fine for the parser.
  auto bytes = good;
  bytes[19] = 0x00;
  bytes[20] = 0x3F;
  bytes[11] ^= 0xFF;
  fix_crc(bytes);
  EXPECT_EQ(parse_status(bytes), NIC_OK);
}

TEST(FrameHeader, CrcMismatchIsCorrupt) {
  auto bytes = nic::write_frame(sample_header(), sample_substreams());
  bytes[bytes.size() - 6] ^= 0x10;  // a payload byte
  std::string message;
  EXPECT_EQ(parse_status(bytes, &message), NIC_ERROR_CORRUPT);
  EXPECT_NE(message.find("CRC mismatch"), std::string::npos) << message;
  // The header alone does not check the CRC.
  EXPECT_NO_THROW(nic::parse_frame_header(bytes.data(), bytes.size()));
}

TEST(FrameHeader, TruncationAtEveryLengthIsTruncated) {
  const auto bytes = nic::write_frame(sample_header(), sample_substreams());
  for (size_t length = 0; length < bytes.size(); ++length) {
    for (bool header_only : {false, true}) {
      try {
        if (header_only) {
          nic::parse_frame_header(bytes.data(), length);
        } else {
          nic::parse_frame(bytes.data(), length);
        }
        ADD_FAILURE() << "length " << length << " accepted";
      } catch (const nic::Error& e) {
        EXPECT_EQ(e.status(), NIC_ERROR_TRUNCATED) << length << ": " << e.what();
        const std::string expected =
            length < 22 ? "truncated: frame header needs 22 bytes, only " + std::to_string(length) +
                              " available"
            : length < 34 ? "truncated: frame header needs 34 bytes, only " +
                                std::to_string(length) + " available"
                          : "truncated: frame needs " + std::to_string(bytes.size()) +
                                " bytes, only " + std::to_string(length) + " available";
        EXPECT_EQ(std::string(e.what()), expected);
      }
    }
  }
  EXPECT_THROW(nic::parse_frame(nullptr, 0), nic::Error);
}

TEST(FrameHeader, EverySingleBitFlipIsAnError) {
  const auto good = nic::write_frame(sample_header(), sample_substreams());
  auto bytes = good;
  for (size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    bytes[bit / 8] ^= uint8_t(1u << (bit % 8));
    const NicStatus status = parse_status(bytes);
    EXPECT_TRUE(status == NIC_ERROR_CORRUPT || status == NIC_ERROR_TRUNCATED ||
                status == NIC_ERROR_UNSUPPORTED)
        << "bit " << bit << " gave status " << status;
    bytes[bit / 8] ^= uint8_t(1u << (bit % 8));
  }
  EXPECT_EQ(bytes, good);
}

TEST(FrameHeader, ScanForFrame) {
  const auto frame = nic::write_frame(sample_header(), sample_substreams());
  auto skip = [](const std::vector<uint8_t>& data, size_t size) {
    return nic::scan_for_frame(data.data(), size).skip;
  };
  EXPECT_EQ(nic::scan_for_frame(nullptr, 0).skip, 0u);
  const nic::FrameScan whole = nic::scan_for_frame(frame.data(), frame.size());
  EXPECT_EQ(whole.skip, 0u);
  EXPECT_EQ(whole.frame_size, frame.size());
  EXPECT_EQ(whole.header.qp_fixed, sample_header().qp_fixed);

  // Garbage, including a fake magic whose header is invalid, then a real frame.
  std::vector<uint8_t> stream = {'x', 'N', 'I', 'N', 'I', 'C', 'F', 0, 0, 0, 0, 0, 0,
                                 0,   0,   0,   0,   0,   0,   0,   0, 0, 0, 0, 0, 0};
  const size_t real = stream.size();
  stream.insert(stream.end(), frame.begin(), frame.end());
  EXPECT_EQ(skip(stream, stream.size()), real);
  EXPECT_EQ(nic::scan_for_frame(stream.data(), stream.size()).frame_size, frame.size());
  // After it: nothing, so everything can go.
  const nic::FrameScan after =
      nic::scan_for_frame(stream.data() + real + 1, stream.size() - real - 1);
  EXPECT_EQ(after.skip, stream.size() - real - 1);
  EXPECT_EQ(after.frame_size, 0u);

  // A frame cut short by the end of the buffer is a candidate to wait for, not a frame.
  EXPECT_EQ(skip(stream, real + 10), real);
  EXPECT_EQ(nic::scan_for_frame(stream.data(), real + 30).frame_size, 0u);
  EXPECT_EQ(skip(stream, real + 30), real);
  // So is a partial magic at the very end.
  const std::vector<uint8_t> tail = {'a', 'b', 'N', 'I', 'C'};
  EXPECT_EQ(skip(tail, tail.size()), 2u);
  const std::vector<uint8_t> no_magic = {'a', 'N', 'I', 'X', 'N'};
  EXPECT_EQ(skip(no_magic, no_magic.size()), 4u);
  const std::vector<uint8_t> plain = {'a', 'b', 'c'};
  EXPECT_EQ(skip(plain, plain.size()), 3u);

  // A frame whose CRC fails is skipped: the next good frame is found behind it.
  std::vector<uint8_t> damaged = frame;
  damaged[damaged.size() - 6] ^= 0x40;  // a payload byte: the lengths stay intact
  std::vector<uint8_t> two = damaged;
  two.insert(two.end(), frame.begin(), frame.end());
  const nic::FrameScan resynced = nic::scan_for_frame(two.data(), two.size());
  EXPECT_EQ(resynced.skip, damaged.size());
  EXPECT_EQ(resynced.frame_size, frame.size());
  // Alone, the damaged frame is nothing to wait for.
  EXPECT_EQ(nic::scan_for_frame(damaged.data(), damaged.size()).frame_size, 0u);
  EXPECT_EQ(skip(damaged, damaged.size()), damaged.size());

  // A damaged length field that reaches past the buffer does not hide the good frame after it.
  std::vector<uint8_t> long_claim = frame;
  long_claim[22] = 0xff;  // the first substream size, low byte
  long_claim[23] = 0xff;
  std::vector<uint8_t> claim_then_good = long_claim;
  claim_then_good.insert(claim_then_good.end(), frame.begin(), frame.end());
  const nic::FrameScan past_claim =
      nic::scan_for_frame(claim_then_good.data(), claim_then_good.size());
  EXPECT_EQ(past_claim.skip, long_claim.size());
  EXPECT_EQ(past_claim.frame_size, frame.size());
}

}  // namespace
