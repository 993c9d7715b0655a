#include "io/safetensors.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.h"
#include "nic/nic.h"

namespace nic {
namespace {

using nlohmann::json;

// The reference implementation's limit; a real header is a few KiB.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;
constexpr const char* kMetadataKey = "__metadata__";

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

// Element count times element size, saturating at UINT64_MAX (a zero dimension wins).
uint64_t shape_bytes(const std::vector<int64_t>& shape, size_t element_size) {
  uint64_t total = element_size;
  bool saturated = false;
  for (int64_t dim : shape) {
    if (dim == 0) return 0;
    const uint64_t d = static_cast<uint64_t>(dim);
    if (saturated || total > std::numeric_limits<uint64_t>::max() / d) {
      saturated = true;
    } else {
      total *= d;
    }
  }
  return saturated ? std::numeric_limits<uint64_t>::max() : total;
}

struct Parsed {
  std::string name;
  uint64_t begin, end;
};

// Parses the JSON header, rejecting duplicate keys and nesting a header never has.
json parse_header_json(const char* begin, const char* end, const std::string& source) {
  std::vector<std::set<std::string>> open_objects;
  std::string problem;
  json::parser_callback_t callback = [&](int depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        // Header object (0) > tensor or __metadata__ object (1) > shape/offsets array (2).
        if (depth > 2) {
          throw Error(NIC_ERROR_MODEL, source +
                                           ": header JSON nests deeper than a safetensors "
                                           "header can (corrupt file?)");
        }
        if (event == json::parse_event_t::object_start) open_objects.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open_objects.empty() && parsed.is_string() &&
            !open_objects.back().insert(parsed.get<std::string>()).second) {
          throw Error(NIC_ERROR_MODEL, source + ": header JSON has the key \"" +
                                           parsed.get<std::string>() + "\" twice");
        }
        break;
      default:
        break;
    }
    return true;
  };
  try {
    return json::parse(begin, end, callback);
  } catch (const json::exception& e) {
    throw Error(NIC_ERROR_MODEL, source + ": header is not valid JSON: " + e.what());
  }
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

SafetensorsFile parse_impl(const uint8_t* data, size_t size, const std::string& source) {
  require(data != nullptr || size == 0, NIC_ERROR_INVALID_ARGUMENT,
          source + ": data pointer is NULL");
  if (size < 8) {
    throw Error(NIC_ERROR_MODEL, source + ": " + std::to_string(size) +
                                     " bytes is too short for a safetensors file (the header "
                                     "length alone takes 8 bytes)");
  }
  const uint64_t header_length = read_u64_le(data);
  if (header_length > kMaxHeaderBytes) {
    throw Error(NIC_ERROR_MODEL, source + ": header length " + std::to_string(header_length) +
                                     " exceeds the 100 MiB limit (not a safetensors file?)");
  }
  if (header_length < 2) {
    throw Error(NIC_ERROR_MODEL, source + ": header length " + std::to_string(header_length) +
                                     " is too small for a JSON object");
  }
  if (header_length > size - 8) {
    throw Error(NIC_ERROR_MODEL, source + ": truncated: header needs " +
                                     std::to_string(8 + header_length) + " bytes, only " +
                                     std::to_string(size) + " available");
  }
  const char* header_begin = reinterpret_cast<const char*>(data + 8);
  if (header_begin[0] != '{') {
    throw Error(NIC_ERROR_MODEL, source +
                                     ": header does not start with '{' (not a safetensors "
                                     "file?)");
  }
  const json header = parse_header_json(header_begin, header_begin + header_length, source);
  if (!header.is_object()) {
    throw Error(NIC_ERROR_MODEL, source + ": header JSON is not an object");
  }

  const uint8_t* payload = data + 8 + header_length;
  const uint64_t payload_size = size - 8 - header_length;

  SafetensorsFile file;
  std::vector<Parsed> ranges;
  for (const auto& [name, entry] : header.items()) {
    if (name == kMetadataKey) {
      if (!entry.is_object()) {
        throw Error(NIC_ERROR_MODEL, source + ": __metadata__ is not a JSON object");
      }
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) {
          throw Error(NIC_ERROR_MODEL,
                      source + ": __metadata__ value of \"" + key + "\" is not a string");
        }
        file.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    const std::string where = source + ": tensor \"" + name + "\": ";
    if (!entry.is_object()) throw Error(NIC_ERROR_MODEL, where + "entry is not a JSON object");
    for (const auto& [key, value] : entry.items()) {
      (void)value;
      if (key != "dtype" && key != "shape" && key != "data_offsets") {
        throw Error(NIC_ERROR_MODEL, where + "unknown field \"" + key + "\"");
      }
    }
    if (!entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets")) {
      throw Error(NIC_ERROR_MODEL, where + "needs the fields dtype, shape and data_offsets");
    }

    TensorBlob blob;
    const json& dtype = entry["dtype"];
    if (!dtype.is_string()) throw Error(NIC_ERROR_MODEL, where + "dtype is not a string");
    blob.dtype = dtype.get<std::string>();
    const size_t element_size = safetensors_dtype_size(blob.dtype);
    if (element_size == 0) {
      throw Error(NIC_ERROR_MODEL, where + "unknown dtype \"" + blob.dtype + "\"");
    }

    const json& shape = entry["shape"];
    if (!shape.is_array()) throw Error(NIC_ERROR_MODEL, where + "shape is not an array");
    for (const json& dim : shape) {
      // JSON integers >= 0 parse as unsigned; negative ones and fractions are rejected.
      if (!dim.is_number_unsigned() ||
          dim.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())) {
        throw Error(NIC_ERROR_MODEL,
                    where + "shape entry " + dim.dump() + " is not a non-negative integer");
      }
      blob.shape.push_back(static_cast<int64_t>(dim.get<uint64_t>()));
    }

    const json& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned()) {
      throw Error(NIC_ERROR_MODEL,
                  where + "data_offsets " + offsets.dump() + " is not [begin, end] integers");
    }
    const uint64_t begin = offsets[0].get<uint64_t>();
    const uint64_t end = offsets[1].get<uint64_t>();
    const std::string range = "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
    if (begin > end)
      throw Error(NIC_ERROR_MODEL, where + "data_offsets " + range + " has begin > end");
    if (end > payload_size) {
      throw Error(NIC_ERROR_MODEL, where + "data_offsets " + range + " run past the " +
                                       std::to_string(payload_size) +
                                       " data bytes (truncated file?)");
    }
    const uint64_t expected = shape_bytes(blob.shape, element_size);
    if (expected != end - begin) {
      throw Error(
          NIC_ERROR_MODEL,
          where + "shape " + shape_text(blob.shape) + " with dtype " + blob.dtype + " needs " +
              (expected == std::numeric_limits<uint64_t>::max() ? std::string("more than 2^64")
                                                                : std::to_string(expected)) +
              " bytes but data_offsets " + range + " span " + std::to_string(end - begin));
    }
    blob.bytes.assign(payload + begin, payload + end);
    ranges.push_back({name, begin, end});
    file.tensors.emplace(name, std::move(blob));
  }

  // The tensors must tile the data exactly, as the reference implementation requires.
  std::sort(ranges.begin(), ranges.end(), [](const Parsed& a, const Parsed& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  const Parsed* previous = nullptr;
  for (const Parsed& r : ranges) {
    if (r.begin < covered) {
      throw Error(NIC_ERROR_MODEL, source + ": tensors \"" + previous->name + "\" [" +
                                       std::to_string(previous->begin) + ", " +
                                       std::to_string(previous->end) + "] and \"" + r.name +
                                       "\" [" + std::to_string(r.begin) + ", " +
                                       std::to_string(r.end) + "] overlap");
    }
    if (r.begin > covered) {
      throw Error(NIC_ERROR_MODEL, source + ": data bytes [" + std::to_string(covered) + ", " +
                                       std::to_string(r.begin) + "] belong to no tensor");
    }
    covered = r.end;
    previous = &r;
  }
  if (covered != payload_size) {
    throw Error(NIC_ERROR_MODEL, source + ": " + std::to_string(payload_size - covered) +
                                     " bytes after the last tensor's data (file has trailing "
                                     "garbage or a damaged header)");
  }
  return file;
}

}  // namespace

size_t safetensors_dtype_size(const std::string& dtype) {
  static const std::map<std::string, size_t> kSizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
      {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
      {"U32", 4},  {"F32", 4}, {"I64", 8}, {"U64", 8},     {"F64", 8},
  };
  const auto it = kSizes.find(dtype);
  return it == kSizes.end() ? 0 : it->second;
}

SafetensorsFile parse_safetensors(const uint8_t* data, size_t size) {
  return parse_impl(data, size, "safetensors data");
}

SafetensorsFile read_safetensors(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    throw Error(NIC_ERROR_MODEL, path + ": cannot open weights file: " + std::strerror(errno));
  }
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  size_t got = 0;
  while ((got = std::fread(chunk, 1, sizeof(chunk), f)) > 0) {
    bytes.insert(bytes.end(), chunk, chunk + got);
  }
  const bool failed = std::ferror(f) != 0;
  const int read_errno = errno;
  std::fclose(f);
  if (failed) {
    throw Error(NIC_ERROR_MODEL, path + ": cannot read weights file: " + std::strerror(read_errno));
  }
  return parse_impl(bytes.data(), bytes.size(), path);
}

std::vector<uint8_t> serialize_safetensors(const SafetensorsFile& file) {
  json header = json::object();
  if (!file.metadata.empty()) {
    json metadata = json::object();
    for (const auto& [key, value] : file.metadata) metadata[key] = value;
    header[kMetadataKey] = std::move(metadata);
  }
  uint64_t offset = 0;
  for (const auto& [name, blob] : file.tensors) {
    const std::string where = "safetensors: tensor \"" + name + "\": ";
    require(name != kMetadataKey, NIC_ERROR_INVALID_ARGUMENT,
            "safetensors: \"__metadata__\" is reserved and cannot name a tensor");
    const size_t element_size = safetensors_dtype_size(blob.dtype);
    require(element_size != 0, NIC_ERROR_INVALID_ARGUMENT,
            where + "unknown dtype \"" + blob.dtype + "\"");
    for (int64_t dim : blob.shape) {
      require(dim >= 0, NIC_ERROR_INVALID_ARGUMENT,
              where + "shape " + shape_text(blob.shape) + " has a negative dimension");
    }
    const uint64_t expected = shape_bytes(blob.shape, element_size);
    require(expected == blob.bytes.size(), NIC_ERROR_INVALID_ARGUMENT,
            where + "shape " + shape_text(blob.shape) + " with dtype " + blob.dtype + " needs " +
                std::to_string(expected) + " bytes, the blob has " +
                std::to_string(blob.bytes.size()));
    header[name] = {{"dtype", blob.dtype},
                    {"shape", blob.shape},
                    {"data_offsets", {offset, offset + blob.bytes.size()}}};
    offset += blob.bytes.size();
  }

  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {
    throw Error(NIC_ERROR_INVALID_ARGUMENT,
                std::string("safetensors: a tensor name or metadata string is not valid UTF-8: ") +
                    e.what());
  }
  // Pad so the data starts 8-byte aligned (what the reference writer does).
  text.append((8 - text.size() % 8) % 8, ' ');

  std::vector<uint8_t> out;
  out.reserve(8 + text.size() + offset);
  for (int i = 0; i < 8; ++i) out.push_back(uint8_t(uint64_t(text.size()) >> (8 * i)));
  out.insert(out.end(), text.begin(), text.end());
  for (const auto& entry : file.tensors) {
    out.insert(out.end(), entry.second.bytes.begin(), entry.second.bytes.end());
  }
  return out;
}

void write_safetensors(const std::string& path, const SafetensorsFile& file) {
  const std::vector<uint8_t> bytes = serialize_safetensors(file);
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(temp.c_str(), "wb");
  if (f == nullptr) {
    throw Error(NIC_ERROR_IO,
                path + ": cannot create temporary file " + temp + ": " + std::strerror(errno));
  }
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  ok = ok && std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  int saved_errno = errno;
  if (std::fclose(f) != 0 && ok) {
    ok = false;
    saved_errno = errno;
  }
  if (!ok) {
    std::remove(temp.c_str());
    throw Error(NIC_ERROR_IO,
                path + ": writing " + temp + " failed: " + std::strerror(saved_errno));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    saved_errno = errno;
    std::remove(temp.c_str());
    throw Error(NIC_ERROR_IO,
                path + ": cannot rename " + temp + " into place: " + std::strerror(saved_errno));
  }
}

uint64_t fingerprint64(const uint8_t* data, size_t size) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < size; ++i) {
    hash ^= data[i];
    hash *= 0x100000001b3ull;
  }
  return hash;
}

}  // namespace nic
