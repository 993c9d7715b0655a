// nic: command-line front end of libnic (encode, decode, info, psnr). Reaches the codec only
// through the C API.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "common/error.h"
#include "io/png_image.h"
#include "nic/nic.h"

namespace {

using Clock = std::chrono::steady_clock;

const char* kUsage =
    "usage:\n"
    "  nic encode IN.png -o OUT.nic [--qp Q] [--model PATH] [--device D] [--threads N]\n"
    "  nic decode IN.nic -o OUT.png [--model PATH] [--device D] [--threads N]\n"
    "       (a stream of several frames needs a pattern such as out%04d.png)\n"
    "  nic info IN.nic\n"
    "  nic psnr A.png B.png\n"
    "qp: 0 (best quality) .. 63 (fewest bits), fractional allowed; default 24.\n"
    "model: default is $NIC_MODEL or the installed default model.\n";

struct Arguments {
  std::vector<std::string> inputs;
  std::string output;
  float qp = 24.0f;
  std::string model, device = "cpu";
  int threads = 0;
};

// Failure with a message for the user; main prints it and exits 1.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

Arguments parse_arguments(int argc, char** argv, int first) {
  Arguments a;
  for (int i = first; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw UsageError(arg + " needs a value");
      return argv[++i];
    };
    auto number = [&](const std::string& text) {
      char* end = nullptr;
      const double v = std::strtod(text.c_str(), &end);
      if (text.empty() || *end) throw UsageError(arg + ": '" + text + "' is not a number");
      return v;
    };
    if (arg == "-o" || arg == "--output") a.output = value();
    else if (arg == "--qp") {
      a.qp = float(number(value()));
      if (!(a.qp >= NIC_QP_MIN && a.qp <= NIC_QP_MAX)) throw UsageError("--qp must be in 0..63");
    } else if (arg == "--model") a.model = value();
    else if (arg == "--device") a.device = value();
    else if (arg == "--threads") {
      const double t = number(value());
      if (t < 0 || t > 256 || t != std::floor(t)) throw UsageError("--threads must be 0..256");
      a.threads = int(t);
    } else if (!arg.empty() && arg[0] == '-' && arg != "-") throw UsageError("unknown option " + arg);
    else a.inputs.push_back(arg);
  }
  return a;
}

void check(NicStatus status, const std::string& what) {
  if (status != NIC_OK)
    throw UsageError(what + ": " + nic_status_string(status) + ": " + nic_last_error());
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot open " + path);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, const uint8_t* data, size_t size) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data), std::streamsize(size));
  if (!out) throw UsageError("cannot write " + path);
}

class Context {
 public:
  explicit Context(const Arguments& a) {
    NicOptions o;
    nic_options_init(&o);
    o.model_path = a.model.empty() ? nullptr : a.model.c_str();
    o.device = a.device.c_str();
    o.threads = a.threads;
    check(nic_context_create(&o, &context_), "loading the model");
  }
  ~Context() { nic_context_destroy(context_); }
  NicContext* get() { return context_; }

 private:
  NicContext* context_ = nullptr;
};

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

void require_one_input(const Arguments& a, const char* command, bool needs_output) {
  if (a.inputs.size() != 1) throw UsageError(std::string(command) + " takes one input file");
  if (needs_output && a.output.empty()) throw UsageError(std::string(command) + " needs -o OUTPUT");
}

int encode(const Arguments& a) {
  require_one_input(a, "encode", true);
  std::string notice;
  nic::RgbImage image = nic::read_png(a.inputs[0], &notice);
  if (!notice.empty()) std::fprintf(stderr, "nic: notice: %s\n", notice.c_str());
  Context context(a);
  const auto start = Clock::now();
  NicBuffer frame{};
  check(nic_encode_rgb(context.get(), image.pixels.data(), image.width, image.height,
                       size_t(image.width) * 3, a.qp, &frame),
        "encoding " + a.inputs[0]);
  const double secs = seconds_since(start);
  try {
    write_file(a.output, frame.data, frame.size);
  } catch (...) {
    nic_buffer_free(&frame);
    throw;
  }
  std::printf("%s: %ux%u qp %.2f -> %zu bytes, %.4f bpp, %.3f s\n", a.output.c_str(), image.width,
              image.height, a.qp, frame.size, frame.size * 8.0 / (double(image.width) * image.height),
              secs);
  nic_buffer_free(&frame);
  return 0;
}

// Splits a raw stream into its frame units; throws on damage.
std::vector<std::pair<size_t, NicFrameInfo>> split_frames(const std::vector<uint8_t>& data,
                                                          const std::string& path) {
  std::vector<std::pair<size_t, NicFrameInfo>> frames;
  size_t offset = 0;
  while (offset < data.size()) {
    NicFrameInfo info;
    check(nic_peek_frame(data.data() + offset, data.size() - offset, &info),
          path + " at byte " + std::to_string(offset));
    frames.push_back({offset, info});
    offset += info.frame_size;
  }
  if (frames.empty()) throw UsageError(path + " is empty");
  return frames;
}

std::string output_name(const std::string& pattern, size_t index) {
  if (pattern.find('%') == std::string::npos) return pattern;
  char name[4096];
  std::snprintf(name, sizeof name, pattern.c_str(), int(index));
  return name;
}

int decode(const Arguments& a) {
  require_one_input(a, "decode", true);
  const std::vector<uint8_t> data = read_file(a.inputs[0]);
  const auto frames = split_frames(data, a.inputs[0]);
  if (frames.size() > 1 && a.output.find('%') == std::string::npos)
    throw UsageError(a.inputs[0] + " holds " + std::to_string(frames.size()) +
                     " frames: give an output pattern such as out%04d.png");
  Context context(a);
  for (size_t i = 0; i < frames.size(); ++i) {
    const auto& [offset, info] = frames[i];
    std::vector<uint8_t> rgb(size_t(info.width) * info.height * 3);
    const auto start = Clock::now();
    check(nic_decode_rgb(context.get(), data.data() + offset, info.frame_size, rgb.data(),
                         size_t(info.width) * 3, rgb.size(), nullptr),
          "decoding " + a.inputs[0] + " frame " + std::to_string(i));
    const double secs = seconds_since(start);
    const std::string out = output_name(a.output, i);
    nic::write_png(out, rgb.data(), info.width, info.height, size_t(info.width) * 3);
    std::printf("%s: %ux%u qp %.2f, %.3f s\n", out.c_str(), info.width, info.height, info.qp, secs);
  }
  return 0;
}

int info(const Arguments& a) {
  require_one_input(a, "info", false);
  const std::vector<uint8_t> data = read_file(a.inputs[0]);
  const auto frames = split_frames(data, a.inputs[0]);
  for (size_t i = 0; i < frames.size(); ++i) {
    const NicFrameInfo& f = frames[i].second;
    std::printf("frame %zu: %ux%u, qp %.2f, model %016llx, %zu bytes, %.4f bpp, version %u\n", i,
                f.width, f.height, f.qp, (unsigned long long)f.model_fingerprint, f.frame_size,
                f.frame_size * 8.0 / (double(f.width) * f.height), f.version);
  }
  return 0;
}

int psnr(const Arguments& a) {
  if (a.inputs.size() != 2) throw UsageError("psnr takes two PNG files");
  nic::RgbImage x = nic::read_png(a.inputs[0]), y = nic::read_png(a.inputs[1]);
  if (x.width != y.width || x.height != y.height) throw UsageError("psnr: the sizes differ");
  double sum = 0;
  for (size_t i = 0; i < x.pixels.size(); ++i) {
    const double d = double(x.pixels[i]) - y.pixels[i];
    sum += d * d;
  }
  const double mse = sum / double(x.pixels.size());
  std::printf("%.4f\n", mse == 0 ? 99.0 : 10.0 * std::log10(255.0 * 255.0 / mse));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  try {
    const Arguments a = parse_arguments(argc, argv, 2);
    if (command == "encode") return encode(a);
    if (command == "decode") return decode(a);
    if (command == "info") return info(a);
    if (command == "psnr") return psnr(a);
    if (command == "--version") {
      std::printf("nic %s\n", nic_version());
      return 0;
    }
    throw UsageError("unknown command '" + command + "'\n" + kUsage);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nic: %s\n", e.what());
    return 1;
  }
}
