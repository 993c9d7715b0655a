// The weights file: safetensors holding the float parameters, the exported integer scale
// network, the integer rate parameters and the CDF tables, with the architecture config in the
// metadata. Everything that decides parsing is stored as integers, so a weights file decodes
// identically on every device.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "entropy/cdf_table.h"
#include "io/safetensors.h"
#include "model/image_codec_model.h"
#include "model/integer_scale_net.h"

namespace nic {

// How a weights file stores the float parameters. kFloat16 stores those of
// kMinFloat16Values values or more (the convolutions, where the bytes are) as float16: half the
// file, at a relative rounding of 2^-11 per weight; the small ones (biases, rate parameters,
// priors) stay float32. Readers turn float16 back into float32. Parsing is unaffected: it rests
// on the integer parts.
enum class FloatStorage { kFloat32, kFloat16 };
constexpr int64_t kMinFloat16Values = 1024;

// Exports model (trained form) into a weights file.
SafetensorsFile export_weights(ImageCodecModel& model,
                               const std::map<std::string, std::string>& metadata,
                               FloatStorage storage = FloatStorage::kFloat32);
void save_weights(const std::string& path, ImageCodecModel& model,
                  const std::map<std::string, std::string>& metadata,
                  FloatStorage storage = FloatStorage::kFloat32);

// What the codec needs, loaded from a weights file.
struct CodecWeights {
  ModelConfig config;
  ImageCodecModel model{nullptr};               // float parts, in eval mode
  IntegerScaleNet scale_net;                    // hyperprior -> scale index
  std::vector<IntegerScaleNet> context_scales;  // steps 2.. of nic-evc-2
  std::vector<CdfTable> z_tables;               // one per z channel
  std::vector<CdfTable> y_tables;               // one per scale index
  std::vector<int32_t> q_basic_units;           // per channel, 1/256 octave
  std::vector<int32_t> anchor_units;            // per rate anchor, 1/256 octave
  std::map<std::string, std::string> metadata;
  uint64_t fingerprint = 0;  // of the file's bytes
};

// Throws Error(NIC_ERROR_MODEL) with the path on any problem.
CodecWeights load_weights(const std::string& path, torch::Device device);
CodecWeights load_weights_from_memory(const std::vector<uint8_t>& bytes, torch::Device device,
                                      const std::string& name);

}  // namespace nic
