// nic: command-line front end of libnic (encode, decode, info, psnr). Reaches the codec only
// through the C API.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/file_bytes.h"
#include "nic/nic.h"
#include "toolkit/pixel_metrics.h"
#include "toolkit/png_image.h"
#include "toolkit/tool_support.h"

namespace {

using Clock = std::chrono::steady_clock;
using nic::tools::check;
using nic::tools::parse_integer;
using nic::tools::parse_number;
using nic::tools::seconds_since;
// Failure with a message for the user; main prints it and exits 1.
using UsageError = nic::tools::ToolError;

const char* kUsage =
    "usage:\n"
    "  nic encode IN.png -o OUT.nic [--qp Q | --target-bytes N | --target-bpp X]\n"
    "             [--effort E] [--model PATH] [--device D] [--threads N] [--max-pixels N]\n"
    "             [--tile-pixels N] [--precision P]\n"
    "  nic encode-seq IN... -o OUT.nic [--rc cqp|cbr|vbr] [--qp Q] [--bitrate KBIT/S] [--fps F]\n"
    "             [--buffer SECONDS] [--window FRAMES] [--max-bitrate KBIT/S]\n"
    "             [--min-qp Q] [--max-qp Q] [--effort E] [--pipeline auto|0|1]\n"
    "       (vbr, also called abr: --bitrate on average over --window frames, peaks capped by\n"
    "        --max-bitrate with a --buffer of that many seconds at the peak rate)\n"
    "       (IN: PNG files, a folder of PNGs, or a pattern such as frames/%04d.png;\n"
    "        writes a raw .nic stream and prints each frame's qp and size;\n"
    "        --pipeline 1 analyses frame N+1 while frame N is entropy coded: auto = 1 on a\n"
    "        GPU, 0 on the CPU)\n"
    "  nic decode IN.nic -o OUT.png [--model PATH] [--device D] [--threads N] [--max-pixels N]\n"
    "             [--tile-pixels N] [--precision P]\n"
    "       (a stream of several frames needs a pattern such as out%04d.png)\n"
    "  nic info IN.nic\n"
    "  nic psnr A.png B.png\n"
    "  nic models                 (the installed models: name, file, size, fingerprint)\n"
    "qp: 0 (best quality) .. 63 (fewest bits), fractional allowed; default 24.\n"
    "effort: 1 (one pass, real time; the default) .. 9 (each step doubles the encoder's\n"
    "        refinement of the latents: fewer bits at the same quality, decoding unchanged).\n"
    "precision: the float networks' arithmetic: auto (float16 on a GPU; on the CPU bfloat16\n"
    "           where it has AMX, else float32), float32, float16, bfloat16; frames decode\n"
    "           the same on every precision.\n"
    "model: --model takes a weights file or an installed model's name (nic models);\n"
    "       default is $NIC_MODEL or the installed default model.\n";

struct Arguments {
  std::vector<std::string> inputs;
  std::string output;
  float qp = NIC_QP_DEFAULT;
  double target_bytes = 0, target_bpp = 0;
  std::string rate_control;  // cqp, cbr, vbr (= abr); empty = cbr with --bitrate, else cqp
  double bitrate_kbps = 0, max_bitrate_kbps = 0, fps = 30, buffer_seconds = 1.0;
  int window = 30;
  float min_qp = NIC_QP_MIN, max_qp = NIC_QP_MAX;
  std::string model, device = "cpu", precision = "auto";
  int threads = 0;
  uint64_t max_pixels = 0;   // 0: the library's limit
  uint64_t tile_pixels = 0;  // 0: the library's tile size
  int effort = NIC_EFFORT_DEFAULT;
  int pipeline = NIC_STREAM_DELAY_AUTO;
};

Arguments parse_arguments(int argc, char** argv, int first) {
  Arguments a;
  for (int i = first; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw UsageError(arg + " needs a value");
      return argv[++i];
    };
    auto number = [&](const std::string& text) { return parse_number(arg, text); };
    if (arg == "-o" || arg == "--output")
      a.output = value();
    else if (arg == "--qp") {
      a.qp = float(number(value()));
      if (!(a.qp >= NIC_QP_MIN && a.qp <= NIC_QP_MAX)) throw UsageError("--qp must be in 0..63");
    } else if (arg == "--target-bytes")
      a.target_bytes = number(value());
    else if (arg == "--target-bpp")
      a.target_bpp = number(value());
    else if (arg == "--rc")
      a.rate_control = value();
    else if (arg == "--bitrate")
      a.bitrate_kbps = number(value());
    else if (arg == "--max-bitrate")
      a.max_bitrate_kbps = number(value());
    else if (arg == "--fps")
      a.fps = number(value());
    else if (arg == "--buffer")
      a.buffer_seconds = number(value());
    else if (arg == "--window")
      a.window = int(parse_integer(arg, value(), 1, 100000));
    else if (arg == "--min-qp")
      a.min_qp = float(number(value()));
    else if (arg == "--max-qp")
      a.max_qp = float(number(value()));
    else if (arg == "--model")
      a.model = value();
    else if (arg == "--device")
      a.device = value();
    else if (arg == "--precision")
      a.precision = value();
    else if (arg == "--max-pixels")
      a.max_pixels = uint64_t(parse_integer(arg, value(), 1, int64_t(NIC_MAX_PIXELS)));
    else if (arg == "--tile-pixels")
      a.tile_pixels = uint64_t(parse_integer(arg, value(), 4096, int64_t(NIC_MAX_PIXELS)));
    else if (arg == "--threads")
      a.threads = int(parse_integer(arg, value(), 0, 256));
    else if (arg == "--effort")
      a.effort = int(parse_integer(arg, value(), NIC_EFFORT_MIN, NIC_EFFORT_MAX));
    else if (arg == "--pipeline") {
      const std::string v = value();
      a.pipeline = v == "auto" ? NIC_STREAM_DELAY_AUTO : int(parse_integer(arg, v, 0, 1));
    } else if (!arg.empty() && arg[0] == '-' && arg != "-")
      throw UsageError("unknown option " + arg);
    else
      a.inputs.push_back(arg);
  }
  return a;
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
    o.precision = a.precision.c_str();
    o.threads = a.threads;
    o.max_pixels = a.max_pixels;
    o.tile_pixels = a.tile_pixels;
    o.effort = a.effort;
    check(nic_context_create(&o, &context_), "loading the model");
  }
  ~Context() { nic_context_destroy(context_); }
  NicContext* get() { return context_; }

 private:
  NicContext* context_ = nullptr;
};

void require_one_input(const Arguments& a, const char* command, bool needs_output) {
  if (a.inputs.size() != 1) throw UsageError(std::string(command) + " takes one input file");
  if (needs_output && a.output.empty()) throw UsageError(std::string(command) + " needs -o OUTPUT");
}

int encode(const Arguments& a) {
  require_one_input(a, "encode", true);
  std::string notice;
  nic::RgbImage image = nic::read_png(a.inputs[0], &notice);
  if (!notice.empty()) std::fprintf(stderr, "nic: notice: %s\n", notice.c_str());
  if (a.target_bytes < 0 || a.target_bpp < 0 || (a.target_bytes > 0 && a.target_bpp > 0))
    throw UsageError("give one of --target-bytes and --target-bpp, positive");
  const double pixels = double(image.width) * image.height;
  const double target = a.target_bytes > 0 ? a.target_bytes : a.target_bpp * pixels / 8.0;
  Context context(a);
  const auto start = Clock::now();
  NicBuffer frame{};
  float qp = a.qp;
  if (target > 0) {
    check(nic_encode_rgb_target_size(context.get(), image.pixels.data(), image.width, image.height,
                                     size_t(image.width) * 3, size_t(std::llround(target)), &frame,
                                     &qp),
          "encoding " + a.inputs[0]);
  } else {
    check(nic_encode_rgb(context.get(), image.pixels.data(), image.width, image.height,
                         size_t(image.width) * 3, a.qp, &frame),
          "encoding " + a.inputs[0]);
  }
  const double secs = seconds_since(start);
  try {
    write_file(a.output, frame.data, frame.size);
  } catch (...) {
    nic_buffer_free(&frame);
    throw;
  }
  std::printf("%s: %ux%u qp %.2f -> %zu bytes, %.4f bpp, %.3f s\n", a.output.c_str(), image.width,
              image.height, qp, frame.size, frame.size * 8.0 / pixels, secs);
  nic_buffer_free(&frame);
  return 0;
}

std::string output_name(const std::string& pattern, size_t index) {
  if (pattern.find('%') == std::string::npos) return pattern;
  char name[4096];
  std::snprintf(name, sizeof name, pattern.c_str(), int(index));
  return name;
}

// The input frames of encode-seq: files as given, a folder's PNGs, or a printf pattern.
std::vector<std::string> sequence_inputs(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const std::string& in : inputs) {
    std::error_code ec;
    if (in.find('%') != std::string::npos) {
      for (int i = 0;; ++i) {
        const std::string name = output_name(in, size_t(i));
        if (!std::filesystem::exists(name, ec)) {
          if (i == 0) continue;  // patterns may start at 1
          break;
        }
        files.push_back(name);
      }
    } else if (std::filesystem::is_directory(in, ec)) {
      const std::vector<std::string> found = nic::tools::list_png_files(in);
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(in);
    }
  }
  if (files.empty()) throw UsageError("encode-seq: no input frames found");
  return files;
}

int encode_sequence(const Arguments& a) {
  if (a.inputs.empty() || a.output.empty())
    throw UsageError("encode-seq needs inputs and -o OUT.nic");
  const std::vector<std::string> files = sequence_inputs(a.inputs);
  NicRateControlConfig rc;
  nic_rate_control_config_init(&rc);
  const std::string mode =
      a.rate_control.empty() ? (a.bitrate_kbps > 0 ? "cbr" : "cqp") : a.rate_control;
  if (mode == "cqp")
    rc.mode = NIC_RATE_CONSTANT_QP;
  else if (mode == "cbr")
    rc.mode = NIC_RATE_CBR;
  else if (mode == "vbr" || mode == "abr")
    rc.mode = NIC_RATE_ABR;
  else
    throw UsageError("--rc must be cqp, cbr or vbr (abr)");
  if (a.max_bitrate_kbps > 0 && rc.mode != NIC_RATE_ABR)
    throw UsageError("--max-bitrate caps --rc vbr only");
  if (rc.mode != NIC_RATE_CONSTANT_QP && a.bitrate_kbps <= 0)
    throw UsageError("--rc " + mode + " needs --bitrate");
  rc.qp = a.qp;
  rc.bitrate = a.bitrate_kbps * 1000.0;
  rc.max_bitrate = a.max_bitrate_kbps * 1000.0;
  rc.framerate = a.fps;
  rc.buffer_seconds = a.buffer_seconds;
  rc.window_frames = a.window;
  rc.min_qp = a.min_qp;
  rc.max_qp = a.max_qp;
  NicRateController* controller = nullptr;
  check(nic_rate_controller_create(&rc, &controller), "rate control");
  std::unique_ptr<NicRateController, void (*)(NicRateController*)> owner(
      controller, nic_rate_controller_destroy);
  Context context(a);
  NicStreamEncoder* encoder = nullptr;
  check(nic_stream_encoder_create(context.get(), controller, a.pipeline, &encoder), "encoder");
  std::unique_ptr<NicStreamEncoder, void (*)(NicStreamEncoder*)> encoder_owner(
      encoder, nic_stream_encoder_destroy);
  std::ofstream out(a.output, std::ios::binary);
  if (!out) throw UsageError("cannot write " + a.output);
  const double budget = rc.bitrate / rc.framerate / 8.0;
  double total = 0, worst = 0;
  // One call per input frame, then drain calls: with a pipeline, each frame comes out of the call
  // after its own (its time is that call's).
  for (size_t sent = 0, written = 0; written < files.size();) {
    nic::RgbImage image;
    NicStreamFrame in{};
    if (sent < files.size()) {
      std::string notice;
      image = nic::read_png(files[sent], &notice);
      if (!notice.empty()) std::fprintf(stderr, "nic: notice: %s\n", notice.c_str());
      in = {image.pixels.data(),     image.width, image.height,
            size_t(image.width) * 3, -1.0f,       int64_t(sent)};
    }
    NicBuffer frame{};
    NicCodedFrame coded{};
    const auto start = Clock::now();
    check(nic_stream_encoder_encode(encoder, sent < files.size() ? &in : nullptr, &frame, &coded),
          "encoding " + files[sent < files.size() ? sent : written]);
    const double secs = seconds_since(start);
    if (sent < files.size()) ++sent;
    if (frame.size == 0) continue;
    out.write(reinterpret_cast<const char*>(frame.data), std::streamsize(frame.size));
    total += double(frame.size);
    if (budget > 0) worst = std::max(worst, frame.size / budget - 1.0);
    std::printf("frame %zu: %s qp %.2f %zu bytes", written, files[written].c_str(), coded.qp,
                frame.size);
    if (budget > 0) std::printf(" (%+.1f%% of budget)", 100.0 * (frame.size / budget - 1.0));
    std::printf(" %.3f s\n", secs);
    nic_buffer_free(&frame);
    ++written;
  }
  if (!out.flush()) throw UsageError("cannot write " + a.output);
  std::printf("%zu frames, %.0f bytes/frame", files.size(), total / double(files.size()));
  if (budget > 0)
    std::printf(", budget %.0f bytes/frame: average %+.2f%%, worst frame %+.1f%%", budget,
                100.0 * (total / double(files.size()) / budget - 1.0), 100.0 * worst);
  std::printf("\n");
  return 0;
}

// The frames of a raw stream, found as a stream parser finds them (nic_scan_frame): damaged
// frames and foreign bytes are skipped, each reported on stderr. Throws when nothing is left.
struct StreamFrames {
  std::vector<std::pair<size_t, NicFrameInfo>> frames;  // offset, header
  size_t skipped_bytes = 0;
};

StreamFrames split_frames(const std::vector<uint8_t>& data, const std::string& path) {
  if (data.empty()) throw UsageError(path + " is empty");
  StreamFrames found;
  std::string problem;
  size_t offset = 0;
  while (offset < data.size()) {
    NicFrameScan scan;
    check(nic_scan_frame(data.data() + offset, data.size() - offset, &scan), path);
    const size_t rest = data.size() - offset;
    if (scan.frame_size == 0 && scan.skip < rest) {
      problem =
          "truncated: the stream ends inside a frame at byte " + std::to_string(offset + scan.skip);
      found.skipped_bytes += rest;
    } else if (scan.skip > 0) {
      problem = "corrupt: " + std::to_string(scan.skip) + " bytes at byte " +
                std::to_string(offset) + " are no valid frame (damaged or foreign data)";
      found.skipped_bytes += scan.skip;
    }
    if (!problem.empty())
      std::fprintf(stderr, "nic: %s: %s, skipped\n", path.c_str(), problem.c_str());
    if (scan.frame_size == 0) break;
    found.frames.push_back({offset + scan.skip, scan.info});
    offset += scan.skip + scan.frame_size;
    problem.clear();
  }
  if (found.frames.empty()) throw UsageError(path + ": no valid frame (" + problem + ")");
  return found;
}

// After the good frames are out: a stream with damage still fails, so that scripts notice.
int damage_status(const StreamFrames& s, const std::string& path) {
  if (s.skipped_bytes == 0) return 0;
  std::fprintf(stderr, "nic: %s: %zu damaged bytes skipped; the %zu good frames were processed\n",
               path.c_str(), s.skipped_bytes, s.frames.size());
  return 1;
}

int decode(const Arguments& a) {
  require_one_input(a, "decode", true);
  const std::vector<uint8_t> data = nic::read_file_bytes(a.inputs[0]);
  const StreamFrames stream = split_frames(data, a.inputs[0]);
  const auto& frames = stream.frames;
  if (frames.size() > 1 && a.output.find('%') == std::string::npos)
    throw UsageError(a.inputs[0] + " holds " + std::to_string(frames.size()) +
                     " frames: give an output pattern such as out%04d.png");
  // Without --model, the installed model that made the stream's first frame.
  Arguments chosen = a;
  if (chosen.model.empty())
    if (const char* path = nic_find_model(frames[0].second.model_fingerprint)) chosen.model = path;
  Context context(chosen);
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
  return damage_status(stream, a.inputs[0]);
}

int info(const Arguments& a) {
  require_one_input(a, "info", false);
  const std::vector<uint8_t> data = nic::read_file_bytes(a.inputs[0]);
  const StreamFrames stream = split_frames(data, a.inputs[0]);
  const auto& frames = stream.frames;
  std::map<uint64_t, std::string> model_names;  // fingerprint -> installed model, or "unknown"
  for (size_t i = 0; i < frames.size(); ++i) {
    const NicFrameInfo& f = frames[i].second;
    auto [known, fresh] = model_names.try_emplace(f.model_fingerprint, "unknown model");
    if (fresh)
      if (const char* path = nic_find_model(f.model_fingerprint))
        known->second = std::filesystem::path(path).stem().string();
    std::printf("frame %zu: %ux%u, qp %.2f, model %016llx (%s), %zu bytes, %.4f bpp, version %u\n",
                i, f.width, f.height, f.qp, (unsigned long long)f.model_fingerprint,
                known->second.c_str(), f.frame_size,
                f.frame_size * 8.0 / (double(f.width) * f.height), f.version);
  }
  return damage_status(stream, a.inputs[0]);
}

int psnr(const Arguments& a) {
  if (a.inputs.size() != 2) throw UsageError("psnr takes two PNG files");
  nic::RgbImage x = nic::read_png(a.inputs[0]), y = nic::read_png(a.inputs[1]);
  if (x.width != y.width || x.height != y.height) throw UsageError("psnr: the sizes differ");
  std::printf("%.4f\n", nic::psnr_8bit(x.pixels.data(), y.pixels.data(), x.pixels.size()));
  return 0;
}

// The installed models, each loaded once for its fingerprint; the default one marked.
int models(const Arguments& a) {
  if (!a.inputs.empty()) throw UsageError("models takes no input");
  const std::string default_path = nic_default_model_path();
  const size_t count = nic_model_count();
  if (count == 0) std::printf("no installed models\n");
  for (size_t i = 0; i < count; ++i) {
    const std::string name = nic_model_name(i), path = nic_model_path(i);
    std::error_code ec;
    const double megabytes = double(std::filesystem::file_size(path, ec)) / 1e6;
    Arguments one = a;
    one.model = path;
    std::string description;
    try {
      Context context(one);
      NicModelComplexity c;
      check(nic_context_model_complexity(context.get(), &c), "model complexity");
      char text[160];
      std::snprintf(text, sizeof text, "%.2fM parameters  %.1f/%.1f kMAC/px (encode/decode)  %s",
                    double(c.parameters) / 1e6, c.encoder_kmacs_per_pixel,
                    c.decoder_kmacs_per_pixel, nic_context_model_fingerprint(context.get()));
      description = text;
    } catch (const std::exception& e) {
      description = std::string("unusable: ") + e.what();
    }
    std::printf("%-16s %s  %.1f MB  %s%s\n", name.c_str(), path.c_str(), megabytes,
                description.c_str(), path == default_path ? "  (default)" : "");
  }
  return 0;
}

}  // namespace

int run(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  try {
    const Arguments a = parse_arguments(argc, argv, 2);
    if (command == "encode") return encode(a);
    if (command == "encode-seq") return encode_sequence(a);
    if (command == "decode") return decode(a);
    if (command == "info") return info(a);
    if (command == "psnr") return psnr(a);
    if (command == "models") return models(a);
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

// The command's objects (model, files) are closed when run() returns; the process then ends
// without LibTorch's static teardown, which deregisters its ~2,000 operators one by one and took
// 60 ms of every short run. Only the tool does this: libnic never ends its host's process.
int main(int argc, char** argv) {
  const int status = run(argc, argv);
  const bool flushed = std::fflush(stdout) == 0 && std::fflush(stderr) == 0;
  std::_Exit(flushed ? status : 1);
}
