#include "toolkit/png_image.h"

#include <png.h>

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <new>

#include "common/error.h"
#include "nic/nic.h"

namespace nic {
namespace {

// libpng reports errors through a callback that must not return; we record the message and
// longjmp back to run_guarded(). The buffer is fixed-size so the callback cannot throw.
struct PngErrorState {
  char message[256] = {0};
};

void on_png_error(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngErrorState*>(png_get_error_ptr(png));
  if (state != nullptr) {
    std::snprintf(state->message, sizeof(state->message), "%s",
                  message != nullptr ? message : "unknown libpng error");
  }
  png_longjmp(png, 1);
}

// Warnings (e.g. "iCCP: known incorrect sRGB profile") do not affect the pixels we read.
void on_png_warning(png_structp, png_const_charp) {}

using GuardedBody = void (*)(png_structp png, png_infop info, void* context);

// The only frame holding a setjmp. Bodies must call nothing but libpng and keep no C++ objects
// with destructors alive, because a libpng error longjmps straight back here across them.
#if defined(__GNUC__)
__attribute__((noinline))
#endif
bool run_guarded(png_structp png, png_infop info, GuardedBody body, void* context) {
  if (setjmp(png_jmpbuf(png))) return false;
  body(png, info, context);
  return true;
}

std::string failure_text(const PngErrorState& state) {
  return state.message[0] != '\0' ? state.message : "unknown libpng error";
}

// libpng's read or write struct with its info struct, freed together.
template <bool kWrite>
class PngHandle {
 public:
  explicit PngHandle(PngErrorState* errors) {
    png_ =
        kWrite
            ? png_create_write_struct(PNG_LIBPNG_VER_STRING, errors, on_png_error, on_png_warning)
            : png_create_read_struct(PNG_LIBPNG_VER_STRING, errors, on_png_error, on_png_warning);
    if (png_ != nullptr) info_ = png_create_info_struct(png_);
  }
  ~PngHandle() {
    if (png_ == nullptr) return;
    if constexpr (kWrite)
      png_destroy_write_struct(&png_, info_ != nullptr ? &info_ : nullptr);
    else
      png_destroy_read_struct(&png_, info_ != nullptr ? &info_ : nullptr, nullptr);
  }
  PngHandle(const PngHandle&) = delete;
  PngHandle& operator=(const PngHandle&) = delete;
  bool ok() const { return png_ != nullptr && info_ != nullptr; }
  png_structp png() const { return png_; }
  png_infop info() const { return info_; }

 private:
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};
using PngReadHandle = PngHandle<false>;
using PngWriteHandle = PngHandle<true>;

struct MemorySource {
  const uint8_t* data;
  size_t size;
  size_t position;
};

void read_from_memory(png_structp png, png_bytep out, size_t length) {
  auto* source = static_cast<MemorySource*>(png_get_io_ptr(png));
  if (length > source->size - source->position) png_error(png, "file ends early (truncated PNG)");
  std::memcpy(out, source->data + source->position, length);
  source->position += length;
}

void write_to_vector(png_structp png, png_bytep data, size_t length) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  // An exception must not unwind through libpng's C frames: turn it into a libpng error.
  bool failed = false;
  try {
    out->insert(out->end(), data, data + length);
  } catch (...) {
    failed = true;
  }
  if (failed) png_error(png, "out of memory while encoding");
}

void flush_nothing(png_structp) {}

void append_notice(std::string& notice, const char* part) {
  if (!notice.empty()) notice += "; ";
  notice += part;
}

RgbImage decode_png(const uint8_t* data, size_t size, const std::string& name,
                    std::string* notice) {
  if (notice != nullptr) notice->clear();
  if (data == nullptr || size < 8 || png_sig_cmp(data, 0, 8) != 0) {
    throw Error(NIC_ERROR_IO, name + ": not a PNG file (missing PNG signature)");
  }

  PngErrorState errors;
  PngReadHandle handle(&errors);
  if (!handle.ok()) throw Error(NIC_ERROR_IO, name + ": cannot initialise libpng (out of memory)");
  png_structp png = handle.png();
  png_infop info = handle.info();

  MemorySource source{data, size, 0};
  png_set_read_fn(png, &source, read_from_memory);

  auto fail = [&](const char* stage) {
    return Error(NIC_ERROR_IO, name + ": corrupt PNG (" + stage + "): " + failure_text(errors));
  };

  if (!run_guarded(
          png, info, [](png_structp p, png_infop i, void*) { png_read_info(p, i); }, nullptr)) {
    throw fail("header");
  }

  const uint32_t width = png_get_image_width(png, info);
  const uint32_t height = png_get_image_height(png, info);
  const int bit_depth = png_get_bit_depth(png, info);
  const int color_type = png_get_color_type(png, info);
  if (width == 0 || height == 0 || width > NIC_MAX_DIMENSION || height > NIC_MAX_DIMENSION) {
    throw Error(NIC_ERROR_IO, name + ": image size " + std::to_string(width) + "x" +
                                  std::to_string(height) + " is outside the supported 1.." +
                                  std::to_string(NIC_MAX_DIMENSION) + " per side");
  }

  std::string changes;
  if (bit_depth == 16) {
    png_set_scale_16(png);
    append_notice(changes, "16-bit PNG reduced to 8 bits");
  }
  if (color_type == PNG_COLOR_TYPE_PALETTE) {
    png_set_palette_to_rgb(png);
    append_notice(changes, "palette image expanded to RGB");
  }
  if ((color_type & PNG_COLOR_MASK_COLOR) == 0) {
    if (bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    png_set_gray_to_rgb(png);
    append_notice(changes, "greyscale expanded to RGB");
  }
  const bool has_trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
  const bool has_alpha = (color_type & PNG_COLOR_MASK_ALPHA) != 0 || has_trns;
  // Transparency is decoded to an alpha channel (so we can tell the user whether dropping it
  // changed anything) and stripped below, after the read.
  if (has_trns) png_set_tRNS_to_alpha(png);
  png_set_interlace_handling(png);

  if (!run_guarded(
          png, info, [](png_structp p, png_infop i, void*) { png_read_update_info(p, i); },
          nullptr)) {
    throw fail("header");
  }
  const size_t channels = has_alpha ? 4 : 3;
  const size_t row_bytes = size_t{width} * channels;
  if (png_get_rowbytes(png, info) != row_bytes || png_get_bit_depth(png, info) != 8 ||
      png_get_channels(png, info) != channels) {
    throw Error(NIC_ERROR_IO, name + ": unsupported PNG layout (colour type " +
                                  std::to_string(color_type) + ", bit depth " +
                                  std::to_string(bit_depth) + ")");
  }

  RgbImage image;
  image.width = width;
  image.height = height;
  image.pixels.resize(row_bytes * height);
  std::vector<png_bytep> rows(height);
  for (uint32_t y = 0; y < height; ++y) rows[y] = image.pixels.data() + row_bytes * y;

  if (!run_guarded(
          png, info,
          [](png_structp p, png_infop, void* context) {
            png_read_image(p, static_cast<png_bytepp>(context));
          },
          rows.data())) {
    throw fail("image data");
  }

  if (has_alpha) {
    // RGBA -> RGB in place: the write position never passes the read position.
    const size_t pixel_count = size_t{width} * height;
    uint8_t* pixels = image.pixels.data();
    size_t translucent = 0;
    for (size_t i = 0; i < pixel_count; ++i) {
      pixels[i * 3 + 0] = pixels[i * 4 + 0];
      pixels[i * 3 + 1] = pixels[i * 4 + 1];
      pixels[i * 3 + 2] = pixels[i * 4 + 2];
      translucent += pixels[i * 4 + 3] != 255;
    }
    image.pixels.resize(pixel_count * 3);
    image.pixels.shrink_to_fit();
    std::string what = (color_type & PNG_COLOR_MASK_ALPHA) != 0 ? "alpha channel dropped"
                                                                : "tRNS transparency dropped";
    if (translucent == 0) {
      what += " (all pixels opaque)";
    } else {
      what += " (" + std::to_string(translucent) + " of " + std::to_string(pixel_count) +
              " pixels not opaque; their colour is kept as stored, not composited)";
    }
    append_notice(changes, what.c_str());
  }

  if (notice != nullptr && !changes.empty()) *notice = name + ": " + changes;
  return image;
}

void check_write_arguments(const uint8_t* rgb, uint32_t width, uint32_t height, size_t stride) {
  require(rgb != nullptr, NIC_ERROR_INVALID_ARGUMENT, "write PNG: pixel pointer is NULL");
  require(width >= 1 && height >= 1 && width <= PNG_USER_WIDTH_MAX && height <= PNG_USER_HEIGHT_MAX,
          NIC_ERROR_INVALID_ARGUMENT,
          "write PNG: image size " + std::to_string(width) + "x" + std::to_string(height) +
              " is invalid (each side must be at least 1)");
  require(stride >= size_t{width} * 3, NIC_ERROR_INVALID_ARGUMENT,
          "write PNG: stride " + std::to_string(stride) +
              " is smaller than width * 3 = " + std::to_string(size_t{width} * 3));
}

struct WriteJob {
  png_bytepp rows;
  uint32_t width;
  uint32_t height;
};

}  // namespace

RgbImage decode_png_memory(const uint8_t* data, size_t size, std::string* notice) {
  return decode_png(data, size, "PNG data", notice);
}

RgbImage read_png(const std::string& path, std::string* notice) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    throw Error(NIC_ERROR_IO, path + ": cannot open for reading: " + std::strerror(errno));
  }
  std::vector<uint8_t> bytes;
  uint8_t chunk[65536];
  size_t got = 0;
  while ((got = std::fread(chunk, 1, sizeof(chunk), file)) > 0) {
    bytes.insert(bytes.end(), chunk, chunk + got);
  }
  const bool read_error = std::ferror(file) != 0;
  const int read_errno = errno;
  std::fclose(file);
  if (read_error) {
    throw Error(NIC_ERROR_IO, path + ": read failed: " + std::strerror(read_errno));
  }
  return decode_png(bytes.data(), bytes.size(), path, notice);
}

std::vector<uint8_t> encode_png_memory(const uint8_t* rgb, uint32_t width, uint32_t height,
                                       size_t stride) {
  check_write_arguments(rgb, width, height, stride);

  std::vector<png_bytep> rows(height);
  // libpng's row type is non-const but png_write_image only reads the rows.
  for (uint32_t y = 0; y < height; ++y) rows[y] = const_cast<png_bytep>(rgb + stride * y);

  PngErrorState errors;
  PngWriteHandle handle(&errors);
  if (!handle.ok())
    throw Error(NIC_ERROR_IO, "encode PNG: cannot initialise libpng (out of memory)");

  std::vector<uint8_t> out;
  png_set_write_fn(handle.png(), &out, write_to_vector, flush_nothing);
  WriteJob job{rows.data(), width, height};
  const bool ok = run_guarded(
      handle.png(), handle.info(),
      [](png_structp p, png_infop i, void* context) {
        auto* task = static_cast<WriteJob*>(context);
        png_set_IHDR(p, i, task->width, task->height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_write_info(p, i);
        png_write_image(p, task->rows);
        png_write_end(p, nullptr);
      },
      &job);
  if (!ok) throw Error(NIC_ERROR_IO, "encode PNG: libpng failed: " + failure_text(errors));
  return out;
}

void write_png(const std::string& path, const uint8_t* rgb, uint32_t width, uint32_t height,
               size_t stride) {
  const std::vector<uint8_t> bytes = encode_png_memory(rgb, width, height, stride);
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) {
    throw Error(NIC_ERROR_IO, path + ": cannot open for writing: " + std::strerror(errno));
  }
  const size_t written = std::fwrite(bytes.data(), 1, bytes.size(), file);
  const int write_errno = errno;
  const bool close_failed = std::fclose(file) != 0;
  if (written != bytes.size() || close_failed) {
    std::remove(path.c_str());  // do not leave a truncated PNG behind
    throw Error(NIC_ERROR_IO, path + ": write failed: " +
                                  std::strerror(written != bytes.size() ? write_errno : errno));
  }
}

}  // namespace nic
