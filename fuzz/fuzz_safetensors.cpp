// Fuzz target: the weights file parser (safetensors), which reads files a user names. Whatever
// it accepts must serialize and parse back to the same tensors.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "common/error.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nic::SafetensorsFile file;
  try {
    file = nic::parse_safetensors(data, size);
  } catch (const nic::Error&) {
    return 0;
  }
  const std::vector<uint8_t> again = nic::serialize_safetensors(file);
  const nic::SafetensorsFile reread = nic::parse_safetensors(again.data(), again.size());
  if (reread.tensors.size() != file.tensors.size() || reread.metadata != file.metadata)
    std::abort();
  for (const auto& [name, blob] : file.tensors) {
    const auto it = reread.tensors.find(name);
    if (it == reread.tensors.end() || it->second.bytes != blob.bytes ||
        it->second.shape != blob.shape || it->second.dtype != blob.dtype)
      std::abort();
  }
  return 0;
}
