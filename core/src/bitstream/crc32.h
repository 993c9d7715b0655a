// CRC-32/ISO-HDLC (the zlib/PNG/Ethernet CRC: reflected polynomial 0xEDB88320, initial value and
// final XOR 0xFFFFFFFF). crc32("123456789") == 0xCBF43926.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nic {

// Incremental: crc32(b, nb, crc32(a, na)) == crc32 of a followed by b. Start with crc = 0.
uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc = 0);

}  // namespace nic
