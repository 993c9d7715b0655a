// The frame unit: one self-delimiting, independently decodable frame (docs/bitstream.md).
//
//   offset  size  field
//   0       4     magic "NICF"
//   4       1     version (1 or 2: the model's architecture)
//   5       1     flags (0)
//   6       2     width  (1..NIC_MAX_DIMENSION)
//   8       2     height (1..NIC_MAX_DIMENSION)
//   10      1     colour_format (0 = 8-bit RGB)
//   11      8     model fingerprint
//   19      2     qp_fixed = round(qp * 256), 0..63*256
//   21      1     substream_count n (1..32)
//   22      4n    substream sizes
//   22+4n   ...   payload: the substreams, concatenated
//   end-4   4     CRC-32 of every byte before it
// All integers little-endian.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace nic {

// The newest bitstream version; every version from 1 up decodes (with a model of that version).
constexpr uint8_t kFrameVersion = 2;
constexpr size_t kFrameFixedHeaderSize = 22;  // everything up to the substream sizes
constexpr size_t kFrameCrcSize = 4;
constexpr size_t kMaxSubstreams = 32;
// qp travels in fixed point: qp_fixed = round(qp * kQpFixedPerQp).
constexpr int kQpFixedPerQp = 256;
constexpr uint16_t kMaxQpFixed = 63 * kQpFixedPerQp;
constexpr uint64_t kFramePayloadBaseLimit = 64ull << 20;  // plus kFramePayloadBytesPerPixel/px
constexpr uint64_t kFramePayloadBytesPerPixel = 4;        // 32 bpp: above raw 8-bit RGB (24)

struct FrameHeader {
  uint8_t version = kFrameVersion;
  uint8_t flags = 0;
  uint32_t width = 0, height = 0;
  uint8_t colour_format = 0;
  uint64_t model_fingerprint = 0;
  uint16_t qp_fixed = 0;
  std::vector<uint32_t> substream_sizes;

  size_t header_size() const;  // fixed part + 4 bytes per substream size
  size_t frame_size() const;   // header + payload + CRC
  float qp() const { return qp_from_fixed(qp_fixed); }

  // round(qp * kQpFixedPerQp); throws NIC_ERROR_INVALID_ARGUMENT unless 0 <= qp <= 63.
  static uint16_t qp_to_fixed(float qp);
  static float qp_from_fixed(uint16_t qp_fixed) { return float(qp_fixed) / kQpFixedPerQp; }
};

// Largest payload (sum of substream sizes) a width x height frame may carry. Bounds what a
// corrupt header can make a parser wait for or buffer.
uint64_t max_frame_payload(uint32_t width, uint32_t height);

// Serializes a frame. header.substream_sizes is ignored: the sizes come from `substreams`.
// An invalid header or payload throws NIC_ERROR_INVALID_ARGUMENT.
std::vector<uint8_t> write_frame(const FrameHeader& header,
                                 const std::vector<std::vector<uint8_t>>& substreams);

struct ParsedFrame {
  FrameHeader header;
  std::vector<std::pair<const uint8_t*, size_t>> substreams;  // point into the parsed buffer
};

// Parses and checks the header of the frame starting at data[0], and that the whole frame
// (header.frame_size() bytes) is available. Does not check the CRC.
// Throws NIC_ERROR_TRUNCATED (message gives the bytes needed) when `size` is too small,
// NIC_ERROR_CORRUPT for bad magic, out-of-range fields or absurd lengths, and
// NIC_ERROR_UNSUPPORTED for a newer version, nonzero flags or another colour format.
FrameHeader parse_frame_header(const uint8_t* data, size_t size);

// parse_frame_header plus the CRC check (NIC_ERROR_CORRUPT "frame CRC mismatch ...").
ParsedFrame parse_frame(const uint8_t* data, size_t size);

// For stream parsers (nic_scan_frame): the first complete frame in data[0, size), header valid
// and CRC correct, at data + skip. When there is none yet, frame_size is 0 and skip is where the
// first candidate that more bytes may complete starts (a header cut short, or a partial magic at
// the very end), or size when there is none: the bytes before skip belong to no frame. A
// complete frame wins over an earlier candidate still waiting for bytes, whose length field then
// reached over a good frame and so was damaged. Never throws.
struct FrameScan {
  size_t skip = 0;
  size_t frame_size = 0;
  FrameHeader header;
};
FrameScan scan_for_frame(const uint8_t* data, size_t size);

}  // namespace nic
