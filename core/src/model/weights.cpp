#include "model/weights.h"

#include <cstring>
#include <future>
#include <limits>

#include "common/error.h"
#include "io/file_bytes.h"

namespace nic {

namespace {

constexpr const char* kFormatKey = "nic.format";
constexpr const char* kFormatVersion = "1";
constexpr const char* kConfigKey = "nic.config";

TensorBlob blob_from_tensor(const torch::Tensor& t) {
  torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
  TensorBlob blob;
  switch (c.scalar_type()) {
    case torch::kFloat32:
      blob.dtype = "F32";
      break;
    case torch::kFloat16:
      blob.dtype = "F16";
      break;
    case torch::kInt32:
      blob.dtype = "I32";
      break;
    default:
      throw Error(NIC_ERROR_INTERNAL, "weights: unsupported tensor type for export");
  }
  blob.shape.assign(c.sizes().begin(), c.sizes().end());
  const auto* p = static_cast<const uint8_t*>(c.data_ptr());
  blob.bytes.assign(p, p + c.numel() * c.element_size());
  return blob;
}

TensorBlob blob_from_ints(const std::vector<int32_t>& values) {
  return blob_from_tensor(torch::tensor(values, torch::kInt32));
}

class WeightsReader {
 public:
  WeightsReader(const SafetensorsFile& file, std::string name)
      : file_(file), name_(std::move(name)) {}

  // The named tensor as a CPU tensor of the given type, with its shape checked when given.
  torch::Tensor tensor(const std::string& key, torch::ScalarType type,
                       const std::vector<int64_t>& expected_shape = {}) const {
    auto it = file_.tensors.find(key);
    require(it != file_.tensors.end(), NIC_ERROR_MODEL, name_ + ": missing tensor '" + key + "'");
    const TensorBlob& blob = it->second;
    // Float parameters may be stored as float16 (FloatStorage::kFloat16).
    const bool half = type == torch::kFloat32 && blob.dtype == "F16";
    const char* want = type == torch::kFloat32 ? "F32" : "I32";
    require(blob.dtype == want || half, NIC_ERROR_MODEL,
            name_ + ": tensor '" + key + "' is " + blob.dtype + ", expected " + want +
                (type == torch::kFloat32 ? " or F16" : ""));
    if (!expected_shape.empty()) {
      require(blob.shape == expected_shape, NIC_ERROR_MODEL,
              name_ + ": tensor '" + key + "' has the wrong shape for this architecture");
    }
    torch::Tensor t =
        torch::empty(blob.shape, torch::TensorOptions().dtype(half ? torch::kFloat16 : type));
    require(size_t(t.numel() * t.element_size()) == blob.bytes.size(), NIC_ERROR_MODEL,
            name_ + ": tensor '" + key + "' has a bad size");
    if (!blob.bytes.empty()) std::memcpy(t.data_ptr(), blob.bytes.data(), blob.bytes.size());
    return half ? t.to(torch::kFloat32) : t;
  }

  std::vector<int32_t> ints(const std::string& key) const {
    torch::Tensor t = tensor(key, torch::kInt32).flatten();
    return std::vector<int32_t>(t.data_ptr<int32_t>(), t.data_ptr<int32_t>() + t.numel());
  }

  std::vector<CdfTable> tables(const std::string& prefix) const {
    try {
      return unflatten_tables(ints(prefix + ".offsets"), ints(prefix + ".lengths"),
                              ints(prefix + ".cdf"));
    } catch (const Error& e) {
      throw Error(NIC_ERROR_MODEL, name_ + ": " + prefix + ": " + e.what());
    }
  }

 private:
  const SafetensorsFile& file_;
  std::string name_;
};

void add_tables(SafetensorsFile& file, const std::string& prefix,
                const std::vector<CdfTable>& tables) {
  std::vector<int32_t> offsets, lengths, cdf;
  flatten_tables(tables, offsets, lengths, cdf);
  file.tensors[prefix + ".offsets"] = blob_from_ints(offsets);
  file.tensors[prefix + ".lengths"] = blob_from_ints(lengths);
  file.tensors[prefix + ".cdf"] = blob_from_ints(cdf);
}

void add_integer_net(SafetensorsFile& file, const std::string& prefix, const IntegerScaleNet& net) {
  for (size_t i = 0; i < net.layers().size(); ++i) {
    const IntegerConvLayer& l = net.layers()[i];
    const std::string key = prefix + "." + std::to_string(i);
    file.tensors[key + ".weight"] = blob_from_tensor(l.weight.to(torch::kInt32));
    file.tensors[key + ".bias"] = blob_from_tensor(l.bias.to(torch::kInt32));
    file.tensors[key + ".multiplier"] = blob_from_tensor(l.multiplier.to(torch::kFloat32));
    file.tensors[key + ".form"] = blob_from_ints({l.pixel_shuffle, l.clamp_to_byte ? 1 : 0});
  }
}

// The integer network stored under prefix, checked to take in_channels and give out_channels.
IntegerScaleNet read_integer_net(const SafetensorsFile& file, const WeightsReader& reader,
                                 const std::string& prefix, const std::string& name,
                                 int64_t in_channels, int64_t out_channels) {
  std::vector<IntegerConvLayer> layers;
  for (size_t i = 0;; ++i) {
    const std::string key = prefix + "." + std::to_string(i);
    if (!file.tensors.count(key + ".weight")) break;
    IntegerConvLayer l;
    l.weight = reader.tensor(key + ".weight", torch::kInt32).to(torch::kFloat64);
    const int64_t out = l.weight.dim() == 4 ? l.weight.size(0) : -1;
    require(out > 0 && l.weight.size(1) > 0 && l.weight.size(2) == 3 && l.weight.size(3) == 3,
            NIC_ERROR_MODEL, name + ": " + key + ": bad weight shape");
    // 8-bit weights, as trained: the exact convolution relies on it (integer_scale_net.cpp).
    require(l.weight.abs().max().item<double>() <= kIntegerWeightLimit, NIC_ERROR_MODEL,
            name + ": " + key + ": weight out of the 8-bit range");
    l.bias = reader.tensor(key + ".bias", torch::kInt32, {out}).to(torch::kFloat64);
    l.multiplier = reader.tensor(key + ".multiplier", torch::kFloat32, {out}).to(torch::kFloat64);
    const std::vector<int32_t> form = reader.ints(key + ".form");
    require(form.size() == 2 && (form[0] == 1 || form[0] == 2), NIC_ERROR_MODEL,
            name + ": " + key + ": bad layer form");
    l.pixel_shuffle = form[0];
    l.clamp_to_byte = form[1] != 0;
    // Each layer takes what the previous one gives (after its pixel shuffle).
    const int64_t expected_in =
        layers.empty() ? in_channels
                       : layers.back().weight.size(0) /
                             (layers.back().pixel_shuffle * layers.back().pixel_shuffle);
    require(l.weight.size(1) == expected_in && out % (l.pixel_shuffle * l.pixel_shuffle) == 0,
            NIC_ERROR_MODEL, name + ": " + key + ": layer does not fit the one before");
    // Every layer but the output gives 8-bit activations.
    require(layers.empty() || layers.back().clamp_to_byte, NIC_ERROR_MODEL,
            name + ": " + key + ": follows a layer without 8-bit activations");
    layers.push_back(l);
  }
  require(!layers.empty() && layers.back().weight.size(0) == out_channels &&
              !layers.back().clamp_to_byte,
          NIC_ERROR_MODEL, name + ": " + prefix + " does not match the config");
  return IntegerScaleNet(std::move(layers));
}

std::vector<int32_t> to_units(const torch::Tensor& log2_values) {
  torch::Tensor u =
      torch::round(log2_values.detach().to(torch::kCPU, torch::kFloat64) * kStepUnitsPerOctave)
          .to(torch::kInt32);
  return std::vector<int32_t>(u.data_ptr<int32_t>(), u.data_ptr<int32_t>() + u.numel());
}

}  // namespace

SafetensorsFile export_weights(ImageCodecModel& model,
                               const std::map<std::string, std::string>& metadata,
                               FloatStorage storage) {
  torch::NoGradGuard no_grad;
  SafetensorsFile file;
  file.metadata = metadata;
  file.metadata[kFormatKey] = kFormatVersion;
  file.metadata[kConfigKey] = model->config.to_json();
  for (const auto& p : model->named_parameters()) {
    torch::Tensor value = p.value().to(torch::kCPU, torch::kFloat32);
    // float16 where the tensor is large and every value fits float16's range.
    if (storage == FloatStorage::kFloat16 && value.numel() >= kMinFloat16Values &&
        value.abs().max().item<float>() < static_cast<float>(std::numeric_limits<c10::Half>::max()))
      value = value.to(torch::kFloat16);
    file.tensors[p.key()] = blob_from_tensor(value);
  }
  add_integer_net(file, "codec.scale_net", model->scale_net->export_integer());
  for (size_t s = 0; s < model->context_scales.size(); ++s)
    add_integer_net(file, "codec.context_scale" + std::to_string(s + 1),
                    model->context_scales[s]->export_integer());
  file.tensors["codec.q_basic_units"] = blob_from_ints(to_units(model->q_basic_log2));
  file.tensors["codec.anchor_units"] = blob_from_ints(to_units(model->q_anchor_log2));
  add_tables(file, "codec.z_tables", model->z_prior->make_tables());
  add_tables(file, "codec.y_tables", make_latent_tables(model->config.latent_distribution_shape));
  return file;
}

void save_weights(const std::string& path, ImageCodecModel& model,
                  const std::map<std::string, std::string>& metadata, FloatStorage storage) {
  write_safetensors(path, export_weights(model, metadata, storage));
}

CodecWeights load_weights_from_memory(const std::vector<uint8_t>& bytes, torch::Device device,
                                      const std::string& name) {
  SafetensorsFile file;
  try {
    file = parse_safetensors(bytes.data(), bytes.size());
  } catch (const Error& e) {
    throw Error(NIC_ERROR_MODEL, name + ": " + e.what());
  }
  require(file.metadata.count(kFormatKey) && file.metadata.at(kFormatKey) == kFormatVersion,
          NIC_ERROR_MODEL, name + ": not a nic weights file (format " + kFormatVersion + ")");
  require(file.metadata.count(kConfigKey), NIC_ERROR_MODEL, name + ": no model config");

  // The fingerprint is one serial pass over the whole file (about 25 ms for the default model):
  // it runs beside the model's construction. The future waits for it on every way out.
  std::future<uint64_t> fingerprint = std::async(
      std::launch::async, [&bytes] { return fingerprint64(bytes.data(), bytes.size()); });
  CodecWeights w;
  w.metadata = file.metadata;
  w.config = ModelConfig::from_json(file.metadata.at(kConfigKey));
  const WeightsReader reader(file, name);

  w.model = ImageCodecModel(w.config);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : w.model->named_parameters()) {
      p.value().copy_(reader.tensor(p.key(), torch::kFloat32, p.value().sizes().vec()));
    }
  }
  w.model->eval();
  w.model->to(device);

  const int64_t n = w.config.latent_channels;
  w.scale_net = read_integer_net(file, reader, "codec.scale_net", name, w.config.hyper_channels, n)
                    .to(device);
  if (w.config.has_context_scales()) {
    for (int64_t s = 1; s <= 3; ++s)
      w.context_scales.push_back(read_integer_net(file, reader,
                                                  "codec.context_scale" + std::to_string(s), name,
                                                  n + s * n, n)
                                     .to(device));
  }

  w.q_basic_units = reader.ints("codec.q_basic_units");
  w.anchor_units = reader.ints("codec.anchor_units");
  require(int(w.q_basic_units.size()) == w.config.latent_channels &&
              w.anchor_units.size() == w.config.anchor_lambdas.size(),
          NIC_ERROR_MODEL, name + ": rate parameters do not match the config");
  w.z_tables = reader.tables("codec.z_tables");
  w.y_tables = reader.tables("codec.y_tables");
  require(
      int(w.z_tables.size()) == w.config.hyper_channels && int(w.y_tables.size()) == kScaleLevels,
      NIC_ERROR_MODEL, name + ": entropy tables do not match the config");
  w.fingerprint = fingerprint.get();
  return w;
}

CodecWeights load_weights(const std::string& path, torch::Device device) {
  std::vector<uint8_t> bytes;
  try {
    bytes = read_file_bytes(path);
  } catch (const Error& e) {
    throw Error(NIC_ERROR_MODEL, e.what());  // a model that cannot be read is a model error
  }
  return load_weights_from_memory(bytes, device, path);
}

}  // namespace nic
