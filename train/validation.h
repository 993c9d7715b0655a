// Validation with real coding: encodes and decodes every validation image at each rate anchor
// with the codec itself (actual bytes, not estimates).
#pragma once

#include <string>

namespace nic {

// One log line: per rate anchor (the model's `anchors`, evenly spaced on qp 0..63), mean bpp and
// PSNR over the folder, and the mean encode/decode time.
std::string validate_weights(const std::string& weights_path, const std::string& folder,
                             int anchors, int threads, const std::string& device);

}  // namespace nic
