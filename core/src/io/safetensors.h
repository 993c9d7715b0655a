// The safetensors weights format, without LibTorch:
//   u64 little-endian N | N bytes of JSON header | data
// The header maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
// relative to the start of the data) and may hold "__metadata__": {string: string}.
//
// Reading is strict, like the reference implementation: the header length is bounded, the JSON
// must parse and have no duplicate keys, every dtype must be known, every tensor's byte range
// must match its shape and dtype, and the tensors must tile the data exactly (no overlap, no gap,
// no trailing bytes). Failures throw nic::Error(NIC_ERROR_MODEL, "<path>: ...").
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace nic {

struct TensorBlob {
  std::string dtype;  // "F32", "I64", "U8", ... (see safetensors_dtype_size)
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // little-endian element data, row-major
};

struct SafetensorsFile {
  std::map<std::string, std::string> metadata;
  std::map<std::string, TensorBlob> tensors;
};

// Bytes per element of a safetensors dtype name, or 0 if the name is unknown.
size_t safetensors_dtype_size(const std::string& dtype);

SafetensorsFile read_safetensors(const std::string& path);

// Errors are prefixed with "safetensors data: " (no path is known).
SafetensorsFile parse_safetensors(const uint8_t* data, size_t size);

// Tensors are laid out in name order; the header is space-padded to a multiple of 8 bytes so
// the data starts 8-byte aligned. An inconsistent tensor (unknown dtype, byte count not matching
// the shape, the reserved name "__metadata__") throws NIC_ERROR_INVALID_ARGUMENT.
std::vector<uint8_t> serialize_safetensors(const SafetensorsFile& file);

// Writes to a temporary file next to `path`, then renames it over `path`, so readers never see a
// half-written file. I/O failures throw NIC_ERROR_IO.
void write_safetensors(const std::string& path, const SafetensorsFile& file);

// FNV-1a 64-bit hash; the model fingerprint is this hash of the weights file's bytes.
uint64_t fingerprint64(const uint8_t* data, size_t size);

}  // namespace nic
