// Validation with real coding: encodes and decodes every validation image at each rate anchor
// with the codec itself (actual bytes, not estimates).
#pragma once

#include <string>

namespace nic {

// One log line: per anchor, mean bpp and PSNR over the folder, and the mean encode/decode time.
std::string validate_weights(const std::string& weights_path, const std::string& folder,
                             int threads, const std::string& device);

}  // namespace nic
