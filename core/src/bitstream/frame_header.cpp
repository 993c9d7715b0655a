#include "bitstream/frame_header.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "bitstream/crc32.h"
#include "common/error.h"
#include "nic/nic.h"

namespace nic {
namespace {

constexpr uint8_t kMagic[4] = {'N', 'I', 'C', 'F'};

uint16_t get_u16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }

uint32_t get_u32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}

uint64_t get_u64(const uint8_t* p) {
  return uint64_t(get_u32(p)) | (uint64_t(get_u32(p + 4)) << 32);
}

void put_u16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(uint8_t(v));
  out.push_back(uint8_t(v >> 8));
}

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

void put_u64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

std::string hex(uint64_t value, int digits) {
  char text[24];
  std::snprintf(text, sizeof(text), "0x%0*llx", digits, static_cast<unsigned long long>(value));
  return text;
}

std::string truncated(size_t needed, size_t available, const char* what) {
  return std::string("truncated: ") + what + " needs " + std::to_string(needed) + " bytes, only " +
         std::to_string(available) + " available";
}

bool dimension_valid(uint32_t side) { return side >= 1 && side <= NIC_MAX_DIMENSION; }

std::string qp_text(uint32_t qp_fixed) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.3f", double(qp_fixed) / kQpFixedPerQp);
  return text;
}

}  // namespace

size_t FrameHeader::header_size() const {
  return kFrameFixedHeaderSize + 4 * substream_sizes.size();
}

size_t FrameHeader::frame_size() const {
  size_t payload = 0;
  for (uint32_t s : substream_sizes) payload += s;
  return header_size() + payload + kFrameCrcSize;
}

uint16_t FrameHeader::qp_to_fixed(float qp) {
  require(std::isfinite(qp) && qp >= NIC_QP_MIN && qp <= NIC_QP_MAX, NIC_ERROR_INVALID_ARGUMENT,
          "qp " + std::to_string(qp) + " is out of range (must be 0..63)");
  return static_cast<uint16_t>(std::lround(double(qp) * kQpFixedPerQp));
}

uint64_t max_frame_payload(uint32_t width, uint32_t height) {
  return kFramePayloadBaseLimit + kFramePayloadBytesPerPixel * uint64_t(width) * height;
}

std::vector<uint8_t> write_frame(const FrameHeader& header,
                                 const std::vector<std::vector<uint8_t>>& substreams) {
  const std::string where = "write frame: ";
  require(header.version >= 1 && header.version <= kFrameVersion, NIC_ERROR_INVALID_ARGUMENT,
          where + "version " + std::to_string(header.version) + " cannot be written (only 1.." +
              std::to_string(kFrameVersion) + ")");
  require(header.flags == 0, NIC_ERROR_INVALID_ARGUMENT,
          where + "flags " + hex(header.flags, 2) + " are not defined (must be 0)");
  require(dimension_valid(header.width), NIC_ERROR_INVALID_ARGUMENT,
          where + "width " + std::to_string(header.width) + " is invalid (must be 1..16384)");
  require(dimension_valid(header.height), NIC_ERROR_INVALID_ARGUMENT,
          where + "height " + std::to_string(header.height) + " is invalid (must be 1..16384)");
  require(header.colour_format == 0, NIC_ERROR_INVALID_ARGUMENT,
          where + "colour format " + std::to_string(header.colour_format) +
              " is not defined (only 0 = 8-bit RGB)");
  require(header.qp_fixed <= kMaxQpFixed, NIC_ERROR_INVALID_ARGUMENT,
          where + "qp_fixed " + std::to_string(header.qp_fixed) + " (qp " +
              qp_text(header.qp_fixed) + ") is out of range 0..16128 (qp 0..63)");
  require(!substreams.empty() && substreams.size() <= kMaxSubstreams, NIC_ERROR_INVALID_ARGUMENT,
          where + std::to_string(substreams.size()) + " substreams (must be 1..32)");
  uint64_t payload = 0;
  for (const auto& s : substreams) payload += s.size();
  const uint64_t limit = max_frame_payload(header.width, header.height);
  require(payload <= limit, NIC_ERROR_INVALID_ARGUMENT,
          where + "payload of " + std::to_string(payload) + " bytes exceeds the " +
              std::to_string(limit) + " bytes allowed for a " + std::to_string(header.width) + "x" +
              std::to_string(header.height) + " frame");

  std::vector<uint8_t> out;
  out.reserve(kFrameFixedHeaderSize + 4 * substreams.size() + payload + kFrameCrcSize);
  for (uint8_t byte : kMagic) out.push_back(byte);  // (insert() here trips a GCC 12 false warning)
  out.push_back(header.version);
  out.push_back(header.flags);
  put_u16(out, uint16_t(header.width));
  put_u16(out, uint16_t(header.height));
  out.push_back(header.colour_format);
  put_u64(out, header.model_fingerprint);
  put_u16(out, header.qp_fixed);
  out.push_back(uint8_t(substreams.size()));
  for (const auto& s : substreams) put_u32(out, uint32_t(s.size()));
  for (const auto& s : substreams) out.insert(out.end(), s.begin(), s.end());
  put_u32(out, crc32(out.data(), out.size()));
  return out;
}

FrameHeader parse_frame_header(const uint8_t* data, size_t size) {
  require(data != nullptr || size == 0, NIC_ERROR_INVALID_ARGUMENT,
          "frame header: data pointer is NULL");
  // Check as much of the magic as is present, so garbage is CORRUPT even when short.
  const size_t magic_bytes = size < 4 ? size : 4;
  if (magic_bytes > 0 && std::memcmp(data, kMagic, magic_bytes) != 0) {
    uint32_t found = 0;
    for (size_t i = 0; i < magic_bytes; ++i) found = (found << 8) | data[i];
    throw Error(NIC_ERROR_CORRUPT, "frame header: bad magic " + hex(found, int(2 * magic_bytes)) +
                                       " (expected \"NICF\"): not a nic frame, or the stream is "
                                       "damaged or misaligned");
  }
  if (size < kFrameFixedHeaderSize) {
    throw Error(NIC_ERROR_TRUNCATED, truncated(kFrameFixedHeaderSize, size, "frame header"));
  }

  FrameHeader header;
  header.version = data[4];
  if (header.version == 0) {
    throw Error(NIC_ERROR_CORRUPT, "frame header: version 0 is invalid");
  }
  if (header.version > kFrameVersion) {
    throw Error(NIC_ERROR_UNSUPPORTED, "frame header: bitstream version " +
                                           std::to_string(header.version) +
                                           " is newer than this decoder supports (" +
                                           std::to_string(kFrameVersion) + "); upgrade nic");
  }
  header.flags = data[5];
  if (header.flags != 0) {
    throw Error(NIC_ERROR_UNSUPPORTED, "frame header: flags " + hex(header.flags, 2) +
                                           " are not supported by bitstream version " +
                                           std::to_string(header.version) + " (must be 0)");
  }
  header.width = get_u16(data + 6);
  header.height = get_u16(data + 8);
  if (!dimension_valid(header.width)) {
    throw Error(NIC_ERROR_CORRUPT, "frame header: width " + std::to_string(header.width) +
                                       " is invalid (must be 1..16384)");
  }
  if (!dimension_valid(header.height)) {
    throw Error(NIC_ERROR_CORRUPT, "frame header: height " + std::to_string(header.height) +
                                       " is invalid (must be 1..16384)");
  }
  header.colour_format = data[10];
  if (header.colour_format != 0) {
    throw Error(NIC_ERROR_UNSUPPORTED, "frame header: colour format " +
                                           std::to_string(header.colour_format) +
                                           " is not supported (only 0 = 8-bit RGB)");
  }
  header.model_fingerprint = get_u64(data + 11);
  header.qp_fixed = get_u16(data + 19);
  if (header.qp_fixed > kMaxQpFixed) {
    throw Error(NIC_ERROR_CORRUPT, "frame header: qp " + qp_text(header.qp_fixed) + " (" +
                                       std::to_string(header.qp_fixed) +
                                       "/256) is out of range 0..63");
  }
  const size_t count = data[21];
  if (count < 1 || count > kMaxSubstreams) {
    throw Error(NIC_ERROR_CORRUPT, "frame header: substream count " + std::to_string(count) +
                                       " is invalid (must be 1..32)");
  }
  const size_t header_size = kFrameFixedHeaderSize + 4 * count;
  if (size < header_size) {
    throw Error(NIC_ERROR_TRUNCATED, truncated(header_size, size, "frame header"));
  }
  uint64_t payload = 0;
  header.substream_sizes.resize(count);
  for (size_t i = 0; i < count; ++i) {
    header.substream_sizes[i] = get_u32(data + kFrameFixedHeaderSize + 4 * i);
    payload += header.substream_sizes[i];
  }
  const uint64_t limit = max_frame_payload(header.width, header.height);
  if (payload > limit) {
    throw Error(NIC_ERROR_CORRUPT,
                "frame header: substream sizes total " + std::to_string(payload) +
                    " bytes, more than the " + std::to_string(limit) + " allowed for a " +
                    std::to_string(header.width) + "x" + std::to_string(header.height) + " frame");
  }
  const size_t frame_size = header.frame_size();
  if (size < frame_size) {
    throw Error(NIC_ERROR_TRUNCATED, truncated(frame_size, size, "frame"));
  }
  return header;
}

ParsedFrame parse_frame(const uint8_t* data, size_t size) {
  ParsedFrame frame;
  frame.header = parse_frame_header(data, size);
  const size_t crc_offset = frame.header.frame_size() - kFrameCrcSize;
  const uint32_t stored = get_u32(data + crc_offset);
  const uint32_t computed = crc32(data, crc_offset);
  if (stored != computed) {
    throw Error(NIC_ERROR_CORRUPT, "frame CRC mismatch: stored " + hex(stored, 8) + ", computed " +
                                       hex(computed, 8) + " over " + std::to_string(crc_offset) +
                                       " bytes (the frame is damaged)");
  }
  const uint8_t* cursor = data + frame.header.header_size();
  for (uint32_t length : frame.header.substream_sizes) {
    frame.substreams.emplace_back(cursor, length);
    cursor += length;
  }
  return frame;
}

FrameScan scan_for_frame(const uint8_t* data, size_t size) {
  FrameScan scan;
  scan.skip = size;
  if (data == nullptr) return scan;
  bool waiting = false;  // an earlier candidate may still become a frame
  for (size_t position = 0; position < size; ++position) {
    const void* hit = std::memchr(data + position, kMagic[0], size - position);
    if (hit == nullptr) break;
    position = size_t(static_cast<const uint8_t*>(hit) - data);
    const size_t remaining = size - position;
    if (remaining < 4) {
      // A partial magic at the end may be completed by the next bytes.
      if (!waiting && std::memcmp(data + position, kMagic, remaining) == 0) scan.skip = position;
      break;
    }
    if (std::memcmp(data + position, kMagic, 4) != 0) continue;
    try {
      const ParsedFrame frame = parse_frame(data + position, remaining);
      scan.skip = position;
      scan.frame_size = frame.header.frame_size();
      scan.header = frame.header;
      return scan;
    } catch (const Error& e) {
      if (e.status() == NIC_ERROR_TRUNCATED && !waiting) {
        waiting = true;
        scan.skip = position;
      }
    }
  }
  return scan;
}

}  // namespace nic
