#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "io/safetensors.h"

namespace {

std::string temp_path(const std::string& leaf) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/nic_test_st_" + std::to_string(::getpid()) +
         "_" + leaf;
}

nic::TensorBlob make_f32(std::vector<int64_t> shape, float start) {
  nic::TensorBlob blob;
  blob.dtype = "F32";
  blob.shape = shape;
  size_t count = 1;
  for (int64_t d : shape) count *= size_t(d);
  blob.bytes.resize(count * 4);
  for (size_t i = 0; i < count; ++i) {
    const float v = start + float(i);
    std::memcpy(blob.bytes.data() + i * 4, &v, 4);
  }
  return blob;
}

nic::SafetensorsFile sample_file() {
  nic::SafetensorsFile file;
  file.metadata["format"] = "pt";
  file.metadata["config"] = "{\"latent_channels\": 96, \"name\": \"caf\xc3\xa9\"}";
  file.tensors["encoder.conv1.weight"] = make_f32({4, 3, 3, 3}, 0.5f);
  file.tensors["encoder.conv1.bias"] = make_f32({4}, -2.0f);
  nic::TensorBlob steps;
  steps.dtype = "I64";
  steps.shape = {};  // a scalar: one element
  steps.bytes = {0x39, 0x30, 0, 0, 0, 0, 0, 0};
  file.tensors["step"] = steps;
  nic::TensorBlob table;
  table.dtype = "U8";
  table.shape = {2, 5};
  table.bytes = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  file.tensors["table"] = table;
  nic::TensorBlob empty;
  empty.dtype = "F64";
  empty.shape = {0, 7};
  file.tensors["empty"] = empty;
  return file;
}

void expect_equal(const nic::SafetensorsFile& a, const nic::SafetensorsFile& b) {
  EXPECT_EQ(a.metadata, b.metadata);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [name, blob] : a.tensors) {
    const auto it = b.tensors.find(name);
    ASSERT_NE(it, b.tensors.end()) << name;
    EXPECT_EQ(blob.dtype, it->second.dtype) << name;
    EXPECT_EQ(blob.shape, it->second.shape) << name;
    EXPECT_EQ(blob.bytes, it->second.bytes) << name;
  }
}

// Builds a file from a raw header string and payload.
std::vector<uint8_t> raw_file(const std::string& header, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> out;
  for (int i = 0; i < 8; ++i) out.push_back(uint8_t(uint64_t(header.size()) >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

// Expects NIC_ERROR_MODEL with `fragment` in the message.
void expect_model_error(const std::vector<uint8_t>& bytes, const std::string& fragment) {
  try {
    nic::parse_safetensors(bytes.data(), bytes.size());
    ADD_FAILURE() << "accepted; expected an error containing: " << fragment;
  } catch (const nic::Error& e) {
    EXPECT_EQ(e.status(), NIC_ERROR_MODEL) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
        << "message: " << e.what() << "\nexpected fragment: " << fragment;
  }
}

TEST(Safetensors, MemoryRoundTrip) {
  const auto file = sample_file();
  const auto bytes = nic::serialize_safetensors(file);
  const uint64_t header_length = bytes[0] | (uint64_t(bytes[1]) << 8);
  EXPECT_EQ(header_length % 8, 0u) << "data should start 8-byte aligned";
  expect_equal(file, nic::parse_safetensors(bytes.data(), bytes.size()));
  // Serializing is deterministic, so the fingerprint of a re-serialized file is stable.
  EXPECT_EQ(nic::serialize_safetensors(nic::parse_safetensors(bytes.data(), bytes.size())), bytes);
}

TEST(Safetensors, FileRoundTripAndFingerprint) {
  const auto file = sample_file();
  const std::string path = temp_path("model.safetensors");
  nic::write_safetensors(path, file);
  expect_equal(file, nic::read_safetensors(path));
  nic::write_safetensors(path, file);  // overwriting an existing file works
  expect_equal(file, nic::read_safetensors(path));
  std::remove(path.c_str());
  EXPECT_FALSE(std::ifstream(path + ".tmp." + std::to_string(::getpid())).good());
}

TEST(Safetensors, EmptyFileRoundTrip) {
  nic::SafetensorsFile file;
  const auto bytes = nic::serialize_safetensors(file);
  const auto back = nic::parse_safetensors(bytes.data(), bytes.size());
  EXPECT_TRUE(back.metadata.empty());
  EXPECT_TRUE(back.tensors.empty());
}

TEST(Safetensors, ReadsReferenceStyleHeader) {
  // As written by the Python library: unsorted offsets, metadata first, trailing spaces.
  const std::string header =
      "{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"I32\",\"shape\":[1],"
      "\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[4,8]}}  ";
  const auto file = nic::parse_safetensors(raw_file(header, {1, 0, 0, 0, 0, 0x3c, 0, 0x40}).data(),
                                           8 + header.size() + 8);
  EXPECT_EQ(file.metadata.at("format"), "pt");
  EXPECT_EQ(file.tensors.at("b").bytes, (std::vector<uint8_t>{1, 0, 0, 0}));
  EXPECT_EQ(file.tensors.at("a").bytes, (std::vector<uint8_t>{0, 0x3c, 0, 0x40}));
  EXPECT_EQ(file.tensors.at("a").dtype, "F16");
}

TEST(Safetensors, Fingerprint64IsFnv1a) {
  EXPECT_EQ(nic::fingerprint64(nullptr, 0), 0xcbf29ce484222325ull);
  EXPECT_EQ(nic::fingerprint64(reinterpret_cast<const uint8_t*>("a"), 1), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(nic::fingerprint64(reinterpret_cast<const uint8_t*>("foobar"), 6),
            0x85944171f73967e8ull);
}

TEST(Safetensors, DtypeSizes) {
  EXPECT_EQ(nic::safetensors_dtype_size("F32"), 4u);
  EXPECT_EQ(nic::safetensors_dtype_size("I64"), 8u);
  EXPECT_EQ(nic::safetensors_dtype_size("BF16"), 2u);
  EXPECT_EQ(nic::safetensors_dtype_size("U8"), 1u);
  EXPECT_EQ(nic::safetensors_dtype_size("f32"), 0u);
  EXPECT_EQ(nic::safetensors_dtype_size("Q4"), 0u);
}

TEST(Safetensors, ValidMinimalParses) {
  const std::string header = "{\"t\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}";
  const auto bytes = raw_file(header, {9, 8, 7, 6});
  const auto file = nic::parse_safetensors(bytes.data(), bytes.size());
  EXPECT_EQ(file.tensors.at("t").bytes, (std::vector<uint8_t>{9, 8, 7, 6}));
}

TEST(Safetensors, MalformedHeadersRejected) {
  const std::vector<uint8_t> four = {1, 2, 3, 4};
  auto tensor = [](const std::string& body) { return "{\"t\":{" + body + "}}"; };
  const std::string good_offsets = "\"data_offsets\":[0,4]";

  expect_model_error({1, 2, 3}, "too short");
  {
    std::vector<uint8_t> huge(16, 0);
    huge[5] = 0x10;  // 2^44 bytes
    expect_model_error(huge, "exceeds the 100 MiB limit");
  }
  {
    auto bytes = raw_file("{}", {});
    bytes[0] = 200;
    expect_model_error(bytes, "truncated: header needs 208 bytes, only 10 available");
  }
  expect_model_error(raw_file("[1,2]", {}), "does not start with '{'");
  expect_model_error(raw_file("{\"t\": ", {}), "not valid JSON");
  expect_model_error(raw_file("{\"a\":1,\"a\":2}", {}), "key \"a\" twice");
  expect_model_error(raw_file("{\"t\":{\"x\":{\"y\":[1]}}}", {}), "nests deeper");
  expect_model_error(raw_file("{\"__metadata__\":[1]}", {}), "__metadata__ is not a JSON object");
  expect_model_error(raw_file("{\"__metadata__\":{\"k\":3}}", {}),
                     "value of \"k\" is not a string");
  expect_model_error(raw_file("{\"t\":5}", four), "entry is not a JSON object");
  expect_model_error(raw_file(tensor("\"dtype\":\"U8\",\"shape\":[4]"), four),
                     "needs the fields dtype, shape and data_offsets");
  expect_model_error(
      raw_file(tensor("\"dtype\":\"U8\",\"shape\":[4]," + good_offsets + ",\"extra\":1"), four),
      "unknown field \"extra\"");
  expect_model_error(raw_file(tensor("\"dtype\":\"Q4\",\"shape\":[4]," + good_offsets), four),
                     "unknown dtype \"Q4\"");
  expect_model_error(raw_file(tensor("\"dtype\":7,\"shape\":[4]," + good_offsets), four),
                     "dtype is not a string");
  expect_model_error(raw_file(tensor("\"dtype\":\"U8\",\"shape\":4," + good_offsets), four),
                     "shape is not an array");
  expect_model_error(raw_file(tensor("\"dtype\":\"U8\",\"shape\":[-4]," + good_offsets), four),
                     "shape entry -4 is not a non-negative integer");
  expect_model_error(raw_file(tensor("\"dtype\":\"U8\",\"shape\":[4.0]," + good_offsets), four),
                     "is not a non-negative integer");
  expect_model_error(raw_file(tensor("\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0]"), four),
                     "is not [begin, end] integers");
  expect_model_error(
      raw_file(tensor("\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,0]"), four),
      "has begin > end");
  expect_model_error(raw_file(tensor("\"dtype\":\"F32\",\"shape\":[4]," + good_offsets), four),
                     "shape [4] with dtype F32 needs 16 bytes but data_offsets [0, 4] span 4");
  expect_model_error(
      raw_file(tensor("\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
                      "\"data_offsets\":[0,4]"),
               four),
      "needs more than 2^64 bytes");
}

TEST(Safetensors, OffsetsOutsideDataOrOverlappingRejected) {
  const std::vector<uint8_t> eight = {1, 2, 3, 4, 5, 6, 7, 8};
  auto two = [](const std::string& a, const std::string& b) {
    return "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":" + a +
           "},\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":" + b + "}}";
  };
  expect_model_error(raw_file(two("[0,4]", "[2,6]"), eight), "overlap");
  expect_model_error(raw_file(two("[0,4]", "[0,4]"), eight), "overlap");
  expect_model_error(raw_file(two("[0,4]", "[6,10]"), eight), "run past the 8 data bytes");
  {
    std::vector<uint8_t> ten(10, 0);
    expect_model_error(raw_file(two("[0,4]", "[6,10]"), ten),
                       "data bytes [4, 6] belong to no tensor");
  }
  {
    std::vector<uint8_t> nine(9, 0);
    expect_model_error(raw_file(two("[0,4]", "[4,8]"), nine), "1 bytes after the last tensor");
  }
  const auto ok = raw_file(two("[4,8]", "[0,4]"), eight);
  const auto file = nic::parse_safetensors(ok.data(), ok.size());
  EXPECT_EQ(file.tensors.at("a").bytes, (std::vector<uint8_t>{5, 6, 7, 8}));
}

TEST(Safetensors, TruncatedAtEveryLengthRejected) {
  const auto bytes = nic::serialize_safetensors(sample_file());
  for (size_t length = 0; length < bytes.size(); ++length) {
    try {
      nic::parse_safetensors(bytes.data(), length);
      ADD_FAILURE() << "truncated file of " << length << " bytes accepted";
    } catch (const nic::Error& e) {
      EXPECT_EQ(e.status(), NIC_ERROR_MODEL);
    }
  }
}

TEST(Safetensors, ByteCorruptionNeverCrashes) {
  auto bytes = nic::serialize_safetensors(sample_file());
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (uint8_t mask : {uint8_t(0x01), uint8_t(0x20), uint8_t(0x80)}) {
      bytes[i] ^= mask;
      try {
        nic::parse_safetensors(bytes.data(), bytes.size());
      } catch (const nic::Error& e) {
        EXPECT_EQ(e.status(), NIC_ERROR_MODEL);
      }
      bytes[i] ^= mask;
    }
  }
}

TEST(Safetensors, MissingFileNamesPath) {
  const std::string path = temp_path("missing.safetensors");
  try {
    nic::read_safetensors(path);
    FAIL() << "expected nic::Error";
  } catch (const nic::Error& e) {
    EXPECT_EQ(e.status(), NIC_ERROR_MODEL);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(Safetensors, ErrorsFromFileNamePath) {
  const std::string path = temp_path("bad.safetensors");
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fputs("not safetensors", f);
  std::fclose(f);
  try {
    nic::read_safetensors(path);
    FAIL() << "expected nic::Error";
  } catch (const nic::Error& e) {
    EXPECT_EQ(e.status(), NIC_ERROR_MODEL);
    EXPECT_EQ(std::string(e.what()).rfind(path + ": ", 0), 0u) << e.what();
  }
  std::remove(path.c_str());
}

TEST(Safetensors, SerializeRejectsInconsistentTensors) {
  auto expect_invalid = [](const nic::SafetensorsFile& file, const std::string& fragment) {
    try {
      nic::serialize_safetensors(file);
      ADD_FAILURE() << "accepted; expected: " << fragment;
    } catch (const nic::Error& e) {
      EXPECT_EQ(e.status(), NIC_ERROR_INVALID_ARGUMENT);
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  nic::SafetensorsFile file;
  file.tensors["w"] = make_f32({2, 3}, 0);
  file.tensors["w"].bytes.pop_back();
  expect_invalid(file, "needs 24 bytes, the blob has 23");
  file.tensors["w"] = make_f32({2}, 0);
  file.tensors["w"].dtype = "F33";
  expect_invalid(file, "unknown dtype \"F33\"");
  file.tensors["w"] = make_f32({2}, 0);
  file.tensors["w"].shape = {-1, -2};
  expect_invalid(file, "negative dimension");
  file.tensors.clear();
  file.tensors["__metadata__"] = make_f32({1}, 0);
  expect_invalid(file, "reserved");
  file.tensors.clear();
  file.metadata["bad"] = "\xff\xfe";
  expect_invalid(file, "not valid UTF-8");
}

TEST(Safetensors, WriteToMissingDirectoryFails) {
  const std::string path = temp_path("no_such_dir/model.safetensors");
  try {
    nic::write_safetensors(path, sample_file());
    FAIL() << "expected nic::Error";
  } catch (const nic::Error& e) {
    EXPECT_EQ(e.status(), NIC_ERROR_IO);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

}  // namespace
