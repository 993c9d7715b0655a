// nic-stream-fps: steady-state encode and decode frames/s of one picture repeated, through the
// C API's stream encoder (nic_stream_encoder_*) and nic_decode_rgb, model load and the first
// (warm-up) frame excluded. Encoding is timed over the whole stream, drain included, so a
// pipeline's background work counts; scripts/gpu-check.sh compares pipeline delays with it.
//
// Usage: nic-stream-fps [--model PATH] [--device D] [--precision P] [--threads N]
//                       [--pipeline auto|0|1] [--frames N] IMAGE.png
// Prints one line: size, delay, encode and decode frames/s, mean bytes per frame.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "nic/nic.h"
#include "toolkit/png_image.h"
#include "toolkit/tool_support.h"

namespace {

using Clock = std::chrono::steady_clock;

void check(NicStatus status, const char* what) {
  if (status == NIC_OK) return;
  std::fprintf(stderr, "nic-stream-fps: %s: %s (%s)\n", what, nic_last_error(),
               nic_status_string(status));
  std::exit(1);
}

// Sends the frames (null: drain) until count frames came out; returns their total bytes.
size_t encode_stream(NicStreamEncoder* encoder, const NicStreamFrame& frame, int count) {
  size_t bytes = 0;
  for (int sent = 0, received = 0; received < count;) {
    NicBuffer out{};
    check(nic_stream_encoder_encode(encoder, sent < count ? &frame : nullptr, &out, nullptr),
          "encode");
    if (sent < count) ++sent;
    if (out.size > 0) ++received;
    bytes += out.size;
    nic_buffer_free(&out);
  }
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model, device = "cpu", precision = "auto", image_path;
  int threads = 0, delay = NIC_STREAM_DELAY_AUTO, frames = 8;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw nic::tools::ToolError(arg + " needs a value");
        return argv[++i];
      };
      if (arg == "--model")
        model = value();
      else if (arg == "--device")
        device = value();
      else if (arg == "--precision")
        precision = value();
      else if (arg == "--threads")
        threads = int(nic::tools::parse_integer(arg, value(), 0, 256));
      else if (arg == "--frames")
        frames = int(nic::tools::parse_integer(arg, value(), 1, 100000));
      else if (arg == "--pipeline") {
        const std::string v = value();
        delay = v == "auto" ? NIC_STREAM_DELAY_AUTO : int(nic::tools::parse_integer(arg, v, 0, 1));
      } else if (!arg.empty() && arg[0] == '-')
        throw nic::tools::ToolError("unknown option " + arg);
      else
        image_path = arg;
    }
    if (image_path.empty()) throw nic::tools::ToolError("no IMAGE.png given");
  } catch (const nic::tools::ToolError& e) {
    std::fprintf(stderr, "nic-stream-fps: %s\n", e.what());
    return 2;
  }
  nic::RgbImage image;
  try {
    image = nic::read_png(image_path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nic-stream-fps: %s\n", e.what());
    return 1;
  }

  NicOptions options;
  nic_options_init(&options);
  options.model_path = model.empty() ? nullptr : model.c_str();
  options.device = device.c_str();
  options.precision = precision.c_str();
  options.threads = threads;
  options.memory_pool = 1;  // as a long-running host would (nic.h): no page faults per frame
  NicContext* context = nullptr;
  check(nic_context_create(&options, &context), "context");
  NicStreamEncoder* encoder = nullptr;
  check(nic_stream_encoder_create(context, nullptr, delay, &encoder), "stream encoder");

  const NicStreamFrame frame{image.pixels.data(),     image.width,    image.height,
                             size_t(image.width) * 3, NIC_QP_DEFAULT, 0};
  encode_stream(encoder, frame, 1);  // warm-up
  const auto encode_start = Clock::now();
  const size_t bytes = encode_stream(encoder, frame, frames);
  const double encode_s = std::chrono::duration<double>(Clock::now() - encode_start).count();

  // Decoding: one frame of the stream, over and over.
  NicBuffer coded{};
  check(nic_encode_rgb(context, image.pixels.data(), image.width, image.height,
                       size_t(image.width) * 3, NIC_QP_DEFAULT, &coded),
        "encode");
  std::vector<uint8_t> rgb(image.pixels.size());
  auto decode = [&] {
    check(nic_decode_rgb(context, coded.data, coded.size, rgb.data(), size_t(image.width) * 3,
                         rgb.size(), nullptr),
          "decode");
  };
  decode();  // warm-up
  const auto decode_start = Clock::now();
  for (int i = 0; i < frames; ++i) decode();
  const double decode_s = std::chrono::duration<double>(Clock::now() - decode_start).count();

  std::printf(
      "%ux%u  device %s  precision %s  pipeline delay %d  encode %.2f frames/s  "
      "decode %.2f frames/s  %zu bytes/frame  (%d frames)\n",
      image.width, image.height, device.c_str(), precision.c_str(),
      nic_stream_encoder_delay(encoder), frames / encode_s, frames / decode_s,
      bytes / size_t(frames), frames);
  nic_buffer_free(&coded);
  nic_stream_encoder_destroy(encoder);
  nic_context_destroy(context);
  return 0;
}
