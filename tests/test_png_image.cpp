#include <gtest/gtest.h>
#include <png.h>
#include <unistd.h>

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/error.h"
#include "toolkit/png_image.h"

namespace {

std::string temp_path(const std::string& leaf) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/nic_test_png_" +
         std::to_string(::getpid()) + "_" + leaf;
}

std::vector<uint8_t> pattern_rgb(uint32_t width, uint32_t height, size_t stride) {
  std::vector<uint8_t> rgb(stride * height, 0xEE);
  for (uint32_t y = 0; y < height; ++y) {
    for (uint32_t x = 0; x < width * 3; ++x) rgb[y * stride + x] = uint8_t(x * 7 + y * 13 + x * y);
  }
  return rgb;
}

void expect_pixels(const nic::RgbImage& image, const std::vector<uint8_t>& rgb, size_t stride) {
  ASSERT_EQ(image.pixels.size(), size_t{image.width} * image.height * 3);
  for (uint32_t y = 0; y < image.height; ++y) {
    for (uint32_t x = 0; x < image.width * 3; ++x) {
      ASSERT_EQ(image.pixels[size_t{y} * image.width * 3 + x], rgb[y * stride + x])
          << "at row " << y << " byte " << x;
    }
  }
}

// Writes an arbitrary PNG with libpng directly. `rows` holds packed PNG rows (16-bit samples
// big-endian), one vector per row.
struct PngSpec {
  uint32_t width = 1, height = 1;
  int color_type = PNG_COLOR_TYPE_RGB;
  int bit_depth = 8;
  bool interlaced = false;
  std::vector<png_color> palette;
  std::vector<uint8_t> palette_alpha;  // tRNS for palette images
  bool grey_trns = false;              // tRNS for a grey image (value 0)
  std::vector<std::vector<uint8_t>> rows;
};

void append_bytes(png_structp png, png_bytep data, size_t length) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + length);
}

std::vector<uint8_t> make_png(PngSpec spec) {
  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  std::vector<png_bytep> rows;
  for (auto& row : spec.rows) rows.push_back(row.data());
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    ADD_FAILURE() << "test PNG writer failed";
    return {};
  }
  png_set_write_fn(png, &out, append_bytes, nullptr);
  png_set_IHDR(png, info, spec.width, spec.height, spec.bit_depth, spec.color_type,
               spec.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (!spec.palette.empty()) png_set_PLTE(png, info, spec.palette.data(), spec.palette.size());
  if (!spec.palette_alpha.empty()) {
    png_set_tRNS(png, info, spec.palette_alpha.data(), spec.palette_alpha.size(), nullptr);
  }
  png_color_16 grey_key{};
  if (spec.grey_trns) png_set_tRNS(png, info, nullptr, 0, &grey_key);
  png_write_info(png, info);
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

TEST(PngImage, FileRoundTripOddSizes) {
  const std::pair<uint32_t, uint32_t> sizes[] = {{1, 1}, {17, 33}, {33, 17}, {64, 3}, {2, 100}};
  for (auto [width, height] : sizes) {
    const size_t stride = width * 3 + 5;  // padded rows must be honoured
    const auto rgb = pattern_rgb(width, height, stride);
    const std::string path = temp_path("roundtrip.png");
    nic::write_png(path, rgb.data(), width, height, stride);
    std::string notice = "stale";
    const nic::RgbImage image = nic::read_png(path, &notice);
    std::remove(path.c_str());
    EXPECT_EQ(image.width, width);
    EXPECT_EQ(image.height, height);
    EXPECT_EQ(notice, "") << "plain 8-bit RGB needs no conversion";
    expect_pixels(image, rgb, stride);
  }
}

TEST(PngImage, MemoryRoundTrip) {
  const auto rgb = pattern_rgb(17, 33, 17 * 3);
  const auto png = nic::encode_png_memory(rgb.data(), 17, 33, 17 * 3);
  ASSERT_GT(png.size(), 8u);
  const nic::RgbImage image = nic::decode_png_memory(png.data(), png.size());
  EXPECT_EQ(image.width, 17u);
  EXPECT_EQ(image.height, 33u);
  expect_pixels(image, rgb, 17 * 3);
}

TEST(PngImage, InterlacedRgbDecodes) {
  PngSpec spec;
  spec.width = 13;
  spec.height = 9;
  spec.interlaced = true;
  const auto rgb = pattern_rgb(13, 9, 39);
  for (uint32_t y = 0; y < 9; ++y)
    spec.rows.emplace_back(rgb.begin() + y * 39, rgb.begin() + (y + 1) * 39);
  const auto png = make_png(spec);
  std::string notice;
  const auto image = nic::decode_png_memory(png.data(), png.size(), &notice);
  EXPECT_EQ(notice, "");
  expect_pixels(image, rgb, 39);
}

TEST(PngImage, Grey8ExpandedWithNotice) {
  PngSpec spec;
  spec.width = 3;
  spec.height = 2;
  spec.color_type = PNG_COLOR_TYPE_GRAY;
  spec.rows = {{0, 100, 255}, {7, 8, 9}};
  const auto png = make_png(spec);
  const std::string path = temp_path("grey.png");
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(png.data(), 1, png.size(), f);
  std::fclose(f);
  std::string notice;
  const auto image = nic::read_png(path, &notice);
  std::remove(path.c_str());
  EXPECT_NE(notice.find(path), std::string::npos) << notice;
  EXPECT_NE(notice.find("greyscale"), std::string::npos) << notice;
  const std::vector<uint8_t> expected = {0, 0, 0, 100, 100, 100, 255, 255, 255,
                                         7, 7, 7, 8,   8,   8,   9,   9,   9};
  EXPECT_EQ(image.pixels, expected);
}

TEST(PngImage, LowBitDepthGrey) {
  struct Case {
    int depth;
    uint8_t packed;
    std::vector<uint8_t> values;  // first pixels of the row, expanded
  };
  const Case cases[] = {
      {1, 0b10110000, {255, 0, 255, 255, 0}},
      {2, 0b00011011, {0, 85, 170, 255}},
      {4, 0x0F, {0, 255}},
  };
  for (const auto& c : cases) {
    PngSpec spec;
    spec.width = uint32_t(c.values.size());
    spec.color_type = PNG_COLOR_TYPE_GRAY;
    spec.bit_depth = c.depth;
    spec.rows = {{c.packed}};
    const auto png = make_png(spec);
    std::string notice;
    const auto image = nic::decode_png_memory(png.data(), png.size(), &notice);
    ASSERT_EQ(image.width, c.values.size());
    for (size_t i = 0; i < c.values.size(); ++i) {
      for (int ch = 0; ch < 3; ++ch) EXPECT_EQ(image.pixels[i * 3 + ch], c.values[i]) << c.depth;
    }
    EXPECT_NE(notice.find("greyscale"), std::string::npos);
  }
}

TEST(PngImage, Grey16ReducedWithNotice) {
  PngSpec spec;
  spec.width = 3;
  spec.color_type = PNG_COLOR_TYPE_GRAY;
  spec.bit_depth = 16;
  spec.rows = {{0x00, 0x00, 0xFF, 0xFF, 0x64, 0x64}};  // 0, 65535, 100*257
  const auto png = make_png(spec);
  std::string notice;
  const auto image = nic::decode_png_memory(png.data(), png.size(), &notice);
  const std::vector<uint8_t> expected = {0, 0, 0, 255, 255, 255, 100, 100, 100};
  EXPECT_EQ(image.pixels, expected);
  EXPECT_NE(notice.find("PNG data"), std::string::npos) << notice;
  EXPECT_NE(notice.find("16-bit PNG reduced to 8 bits"), std::string::npos) << notice;
  EXPECT_NE(notice.find("greyscale"), std::string::npos) << notice;
}

TEST(PngImage, Rgb16ReducedAndRounded) {
  PngSpec spec;
  spec.width = 2;
  spec.bit_depth = 16;
  // 0x1234 -> round(4660 / 257) = 18; 0x80FF -> round(33023 / 257) = 128.
  spec.rows = {{0x12, 0x34, 0xFF, 0xFF, 0x00, 0x00, 0x80, 0xFF, 0x01, 0x01, 0xFE, 0xFE}};
  const auto png = make_png(spec);
  std::string notice;
  const auto image = nic::decode_png_memory(png.data(), png.size(), &notice);
  const std::vector<uint8_t> expected = {18, 255, 0, 128, 1, 254};
  EXPECT_EQ(image.pixels, expected);
  EXPECT_NE(notice.find("16-bit"), std::string::npos);
  EXPECT_EQ(notice.find("greyscale"), std::string::npos);
}

TEST(PngImage, RgbaAlphaDropped) {
  PngSpec spec;
  spec.width = 2;
  spec.color_type = PNG_COLOR_TYPE_RGB_ALPHA;
  spec.rows = {{10, 20, 30, 0, 40, 50, 60, 128}};
  const auto png = make_png(spec);
  std::string notice;
  const auto image = nic::decode_png_memory(png.data(), png.size(), &notice);
  const std::vector<uint8_t> expected = {10, 20, 30, 40, 50, 60};  // colour kept, not composited
  EXPECT_EQ(image.pixels, expected);
  EXPECT_NE(notice.find("alpha channel dropped (2 of 2 pixels not opaque"), std::string::npos)
      << notice;
}

TEST(PngImage, Rgba16AlphaDroppedAndReduced) {
  PngSpec spec;
  spec.color_type = PNG_COLOR_TYPE_RGB_ALPHA;
  spec.bit_depth = 16;
  spec.rows = {{0x0A, 0x0A, 0x14, 0x14, 0x1E, 0x1E, 0x00, 0x00}};
  const auto png = make_png(spec);
  std::string notice;
  const auto image = nic::decode_png_memory(png.data(), png.size(), &notice);
  const std::vector<uint8_t> expected = {10, 20, 30};
  EXPECT_EQ(image.pixels, expected);
  EXPECT_NE(notice.find("16-bit"), std::string::npos) << notice;
  EXPECT_NE(notice.find("alpha"), std::string::npos) << notice;
}

TEST(PngImage, GreyAlphaExpanded) {
  PngSpec spec;
  spec.width = 2;
  spec.color_type = PNG_COLOR_TYPE_GRAY_ALPHA;
  spec.rows = {{77, 0, 200, 255}};
  const auto png = make_png(spec);
  std::string notice;
  const auto image = nic::decode_png_memory(png.data(), png.size(), &notice);
  const std::vector<uint8_t> expected = {77, 77, 77, 200, 200, 200};
  EXPECT_EQ(image.pixels, expected);
  EXPECT_NE(notice.find("greyscale"), std::string::npos) << notice;
  EXPECT_NE(notice.find("alpha"), std::string::npos) << notice;
}

TEST(PngImage, PaletteWithAndWithoutTransparency) {
  for (bool with_trns : {false, true}) {
    for (int depth : {4, 8}) {
      PngSpec spec;
      spec.width = 2;
      spec.color_type = PNG_COLOR_TYPE_PALETTE;
      spec.bit_depth = depth;
      spec.palette = {{1, 2, 3}, {200, 100, 50}};
      if (with_trns) spec.palette_alpha = {0, 255};
      spec.rows = {depth == 8 ? std::vector<uint8_t>{1, 0} : std::vector<uint8_t>{0x10}};
      const auto png = make_png(spec);
      std::string notice;
      const auto image = nic::decode_png_memory(png.data(), png.size(), &notice);
      const std::vector<uint8_t> expected = {200, 100, 50, 1, 2, 3};
      EXPECT_EQ(image.pixels, expected) << "depth " << depth << " tRNS " << with_trns;
      EXPECT_NE(notice.find("palette"), std::string::npos) << notice;
      EXPECT_EQ(
          notice.find("tRNS transparency dropped (1 of 2 pixels not opaque") != std::string::npos,
          with_trns)
          << notice;
    }
  }
}

TEST(PngImage, GreyTrnsIgnored) {
  PngSpec spec;
  spec.width = 2;
  spec.color_type = PNG_COLOR_TYPE_GRAY;
  spec.grey_trns = true;
  spec.rows = {{0, 9}};
  const auto png = make_png(spec);
  std::string notice;
  const auto image = nic::decode_png_memory(png.data(), png.size(), &notice);
  const std::vector<uint8_t> expected = {0, 0, 0, 9, 9, 9};
  EXPECT_EQ(image.pixels, expected);
  EXPECT_NE(notice.find("tRNS transparency dropped (1 of 2"), std::string::npos) << notice;
}

TEST(PngImage, OpaqueAlphaReported) {
  PngSpec spec;
  spec.width = 2;
  spec.color_type = PNG_COLOR_TYPE_RGB_ALPHA;
  spec.interlaced = true;
  spec.rows = {{1, 2, 3, 255, 4, 5, 6, 255}};
  const auto png = make_png(spec);
  std::string notice;
  const auto image = nic::decode_png_memory(png.data(), png.size(), &notice);
  const std::vector<uint8_t> expected = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(image.pixels, expected);
  EXPECT_EQ(notice, "PNG data: alpha channel dropped (all pixels opaque)");
}

TEST(PngImage, MissingFileNamesPath) {
  const std::string path = temp_path("does_not_exist.png");
  try {
    nic::read_png(path);
    FAIL() << "expected nic::Error";
  } catch (const nic::Error& e) {
    EXPECT_EQ(e.status(), NIC_ERROR_IO);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(PngImage, NotAPngRejected) {
  const std::string text = "this is not a PNG file at all";
  try {
    nic::decode_png_memory(reinterpret_cast<const uint8_t*>(text.data()), text.size());
    FAIL() << "expected nic::Error";
  } catch (const nic::Error& e) {
    EXPECT_EQ(e.status(), NIC_ERROR_IO);
    EXPECT_NE(std::string(e.what()).find("not a PNG"), std::string::npos) << e.what();
  }
  EXPECT_THROW(nic::decode_png_memory(nullptr, 0), nic::Error);
}

TEST(PngImage, TruncatedAtEveryLengthThrows) {
  const auto rgb = pattern_rgb(5, 4, 15);
  const auto png = nic::encode_png_memory(rgb.data(), 5, 4, 15);
  // Up to the end of IDAT the image is incomplete; only the trailing IEND may be cut off.
  const size_t iend_size = 12;
  for (size_t length = 0; length + iend_size < png.size(); ++length) {
    try {
      nic::decode_png_memory(png.data(), length);
      ADD_FAILURE() << "length " << length << " decoded";
    } catch (const nic::Error& e) {
      EXPECT_EQ(e.status(), NIC_ERROR_IO);
    }
  }
}

TEST(PngImage, BitFlipsNeverCrash) {
  const auto rgb = pattern_rgb(6, 5, 18);
  auto png = nic::encode_png_memory(rgb.data(), 6, 5, 18);
  int errors = 0;
  for (size_t bit = 0; bit < png.size() * 8; ++bit) {
    png[bit / 8] ^= uint8_t(1u << (bit % 8));
    try {
      const auto image = nic::decode_png_memory(png.data(), png.size());
      EXPECT_EQ(image.pixels.size(), size_t{image.width} * image.height * 3);
    } catch (const nic::Error& e) {
      EXPECT_EQ(e.status(), NIC_ERROR_IO);
      ++errors;
    }
    png[bit / 8] ^= uint8_t(1u << (bit % 8));
  }
  EXPECT_GT(errors, 0);
}

TEST(PngImage, OversizedImageRejected) {
  PngSpec spec;
  spec.width = NIC_MAX_DIMENSION + 1;
  spec.color_type = PNG_COLOR_TYPE_GRAY;
  spec.bit_depth = 1;
  spec.rows = {std::vector<uint8_t>((spec.width + 7) / 8, 0)};
  const auto png = make_png(spec);
  try {
    nic::decode_png_memory(png.data(), png.size());
    FAIL() << "expected nic::Error";
  } catch (const nic::Error& e) {
    EXPECT_EQ(e.status(), NIC_ERROR_IO);
    EXPECT_NE(std::string(e.what()).find("16385x1"), std::string::npos) << e.what();
  }
}

TEST(PngImage, WriteArgumentsValidated) {
  const auto rgb = pattern_rgb(4, 4, 12);
  auto expect_invalid = [](auto&& call) {
    try {
      call();
      ADD_FAILURE() << "expected nic::Error";
    } catch (const nic::Error& e) {
      EXPECT_EQ(e.status(), NIC_ERROR_INVALID_ARGUMENT) << e.what();
    }
  };
  expect_invalid([&] { nic::encode_png_memory(nullptr, 4, 4, 12); });
  expect_invalid([&] { nic::encode_png_memory(rgb.data(), 0, 4, 12); });
  expect_invalid([&] { nic::encode_png_memory(rgb.data(), 4, 0, 12); });
  expect_invalid([&] { nic::encode_png_memory(rgb.data(), 4, 4, 11); });
}

TEST(PngImage, WriteToMissingDirectoryFails) {
  const auto rgb = pattern_rgb(2, 2, 6);
  const std::string path = temp_path("no_such_dir/out.png");
  try {
    nic::write_png(path, rgb.data(), 2, 2, 6);
    FAIL() << "expected nic::Error";
  } catch (const nic::Error& e) {
    EXPECT_EQ(e.status(), NIC_ERROR_IO);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

}  // namespace
