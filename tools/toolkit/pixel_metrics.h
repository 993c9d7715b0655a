// Quality measures on 8-bit pixels, shared by the CLI, the trainer's validation, the benchmarks
// and the tests, so that every PSNR nic reports is the same number.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nic {

// PSNR in dB of b against a (count bytes each, any channel layout; peak 255). Identical inputs
// give 99 dB, a finite stand-in for infinity.
double psnr_8bit(const uint8_t* a, const uint8_t* b, size_t count);

}  // namespace nic
