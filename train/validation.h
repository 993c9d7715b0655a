// Validation with real coding: encodes and decodes every validation image at each rate anchor
// with the codec itself (actual bytes, not estimates).
#pragma once

#include <string>

namespace nic {

// One log line: per rate anchor of the weights (evenly spaced on qp 0..63), mean bpp and PSNR
// over the folder; the mean PSNR with no quantization at all (the transforms' ceiling); and the
// mean encode/decode time.
std::string validate_weights(const std::string& weights_path, const std::string& folder,
                             int threads, const std::string& device);

}  // namespace nic
