// PNG reading and writing (libpng) for 8-bit interleaved RGB images.
//
// Every PNG flavour is read as 8-bit RGB:
//   - greyscale (1/2/4/8/16-bit) is replicated into R, G and B;
//   - palette images are expanded through the palette;
//   - 16-bit samples are scaled to 8 bits (rounded, v * 255 / 65535);
//   - an alpha channel (RGBA, grey+alpha) or tRNS transparency is DROPPED: the colour samples are
//     kept as stored, not composited onto a background. This matches FFmpeg's rgba -> rgb24
//     conversion, so the CLI and the FFmpeg wrapper see the same pixels. The notice says how
//     many pixels were not fully opaque ("all pixels opaque" when dropping lost nothing).
// Colour management chunks (gAMA, iCCP, sRGB, cHRM) are ignored: samples are used as stored.
// When any conversion happened, `notice` (if given) receives a sentence for the user, e.g.
// "input.png: 16-bit PNG reduced to 8 bits; alpha channel dropped"; otherwise it is cleared.
//
// Failures throw nic::Error(NIC_ERROR_IO, ...) naming the file (or "PNG data" for memory
// buffers). Corrupt or truncated PNGs never crash; images wider or taller than
// NIC_MAX_DIMENSION are rejected before any pixel memory is allocated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nic {

struct RgbImage {
  uint32_t width = 0, height = 0;
  std::vector<uint8_t> pixels;  // RGB interleaved, stride width * 3
};

RgbImage read_png(const std::string& path, std::string* notice = nullptr);

RgbImage decode_png_memory(const uint8_t* data, size_t size, std::string* notice = nullptr);

// Writes an 8-bit RGB PNG. Rows are `stride` bytes apart (stride >= width * 3).
// Bad arguments throw NIC_ERROR_INVALID_ARGUMENT, write failures NIC_ERROR_IO.
void write_png(const std::string& path, const uint8_t* rgb, uint32_t width, uint32_t height,
               size_t stride);

std::vector<uint8_t> encode_png_memory(const uint8_t* rgb, uint32_t width, uint32_t height,
                                       size_t stride);

}  // namespace nic
