// nic-seq-engine: the rate-control benchmark's codec (bench/rate_control.py drives it).
//
// Analyses every frame of a sequence once (nic_analyze_rgb) and then codes the sequence as often
// as asked, each time for the cost of quantization and entropy coding only: one rate-controlled
// run and the constant-qp search that matches its rate cost a fraction of separate
// `nic encode-seq` runs, which repeat the analysis transform every time (the bulk of an encode).
//
// Usage: nic-seq-engine [--model PATH] [--device D] [--threads N] FRAME.png...
// Then one command per line on stdin, one JSON object per line on stdout:
//   encode ID cqp QP                         code every frame at qp QP
//   encode ID cbr|abr KBIT/S FPS BUFFER_S    code under the rate controller
//   psnr ID                                  decode stream ID, PSNR (RGB) of each frame
//   save ID PATH                             write stream ID as a raw .nic stream
//   drop ID                                  forget stream ID
//   quit
// Every reply has "ok"; failures carry "error" and the engine goes on.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "nic/nic.h"
#include "toolkit/pixel_metrics.h"
#include "toolkit/png_image.h"
#include "toolkit/tool_support.h"

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

using EngineError = nic::tools::ToolError;
using nic::tools::check;
using nic::tools::seconds_since;

struct Frame {
  nic::RgbImage image;
  std::unique_ptr<NicFrameAnalysis, void (*)(NicFrameAnalysis*)> analysis{
      nullptr, nic_frame_analysis_destroy};
};

struct Stream {
  std::vector<std::vector<uint8_t>> frames;
};

class Engine {
 public:
  Engine(NicContext* context, std::vector<Frame> frames)
      : context_(context), frames_(std::move(frames)) {}

  json encode(const std::string& id, const std::string& mode, std::istream& args) {
    NicRateControlConfig rc;
    nic_rate_control_config_init(&rc);
    if (mode == "cqp") {
      rc.mode = NIC_RATE_CONSTANT_QP;
      args >> rc.qp;
    } else if (mode == "cbr" || mode == "abr") {
      rc.mode = mode == "cbr" ? NIC_RATE_CBR : NIC_RATE_ABR;
      double kbps = 0;
      args >> kbps >> rc.framerate >> rc.buffer_seconds;
      rc.bitrate = kbps * 1000.0;
    } else {
      throw EngineError("encode: unknown mode '" + mode + "' (cqp, cbr, abr)");
    }
    if (args.fail()) throw EngineError("encode " + mode + ": missing or malformed numbers");
    NicRateController* controller = nullptr;
    check(nic_rate_controller_create(&rc, &controller), "rate control");
    std::unique_ptr<NicRateController, void (*)(NicRateController*)> owner(
        controller, nic_rate_controller_destroy);
    Stream stream;
    json qps = json::array(), sizes = json::array(), seconds = json::array();
    for (const Frame& f : frames_) {
      NicBuffer out{};
      float qp = 0;
      const auto start = Clock::now();
      check(nic_encode_analysis_controlled(context_, controller, f.analysis.get(), &out, &qp),
            "encoding frame " + std::to_string(stream.frames.size()));
      seconds.push_back(seconds_since(start));
      stream.frames.emplace_back(out.data, out.data + out.size);
      nic_buffer_free(&out);
      qps.push_back(qp);
      sizes.push_back(stream.frames.back().size());
    }
    streams_[id] = std::move(stream);
    return {{"ok", true}, {"id", id}, {"qps", qps}, {"sizes", sizes}, {"seconds", seconds}};
  }

  json psnr(const std::string& id) {
    const Stream& stream = find(id);
    json psnrs = json::array(), seconds = json::array();
    for (size_t i = 0; i < stream.frames.size(); ++i) {
      const nic::RgbImage& original = frames_[i].image;
      std::vector<uint8_t> rgb(original.pixels.size());
      const auto start = Clock::now();
      check(nic_decode_rgb(context_, stream.frames[i].data(), stream.frames[i].size(), rgb.data(),
                           size_t(original.width) * 3, rgb.size(), nullptr),
            "decoding frame " + std::to_string(i));
      seconds.push_back(seconds_since(start));
      psnrs.push_back(nic::psnr_8bit(original.pixels.data(), rgb.data(), rgb.size()));
    }
    return {{"ok", true}, {"id", id}, {"psnrs", psnrs}, {"seconds", seconds}};
  }

  json save(const std::string& id, const std::string& path) {
    std::ofstream out(path, std::ios::binary);
    for (const auto& frame : find(id).frames)
      out.write(reinterpret_cast<const char*>(frame.data()), std::streamsize(frame.size()));
    if (!out.flush()) throw EngineError("cannot write " + path);
    return {{"ok", true}, {"id", id}, {"path", path}};
  }

  json drop(const std::string& id) {
    find(id);
    streams_.erase(id);
    return {{"ok", true}, {"id", id}};
  }

 private:
  const Stream& find(const std::string& id) const {
    auto it = streams_.find(id);
    if (it == streams_.end()) throw EngineError("no stream '" + id + "'");
    return it->second;
  }

  NicContext* context_;
  std::vector<Frame> frames_;
  std::map<std::string, Stream> streams_;
};

void reply(const json& j) { std::cout << j.dump() << std::endl; }

int run(int argc, char** argv) {
  NicOptions options;
  nic_options_init(&options);
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) throw EngineError(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--model")
      options.model_path = value();
    else if (arg == "--device")
      options.device = value();
    else if (arg == "--threads")
      options.threads = std::atoi(value());
    else if (!arg.empty() && arg[0] == '-')
      throw EngineError("unknown option " + arg);
    else
      paths.push_back(arg);
  }
  if (paths.empty())
    throw EngineError("usage: nic-seq-engine [--model M] [--threads N] FRAME.png...");
  NicContext* context = nullptr;
  check(nic_context_create(&options, &context), "loading the model");
  std::unique_ptr<NicContext, void (*)(NicContext*)> owner(context, nic_context_destroy);

  std::vector<Frame> frames;
  json analysis_seconds = json::array();
  for (const std::string& path : paths) {
    Frame f;
    f.image = nic::read_png(path);
    if (!frames.empty() &&
        (f.image.width != frames[0].image.width || f.image.height != frames[0].image.height))
      throw EngineError(path + ": every frame must have the size of the first");
    NicFrameAnalysis* a = nullptr;
    const auto start = Clock::now();
    check(nic_analyze_rgb(context, f.image.pixels.data(), f.image.width, f.image.height,
                          size_t(f.image.width) * 3, &a),
          "analysing " + path);
    analysis_seconds.push_back(seconds_since(start));
    f.analysis.reset(a);
    frames.push_back(std::move(f));
  }
  const uint32_t width = frames[0].image.width, height = frames[0].image.height;
  Engine engine(context, std::move(frames));
  reply({{"ok", true},
         {"frames", paths.size()},
         {"width", width},
         {"height", height},
         {"analysis_seconds", analysis_seconds}});

  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string command, id;
    in >> command;
    if (command.empty()) continue;
    if (command == "quit") break;
    try {
      in >> id;
      if (id.empty()) throw EngineError(command + " needs a stream id");
      if (command == "encode") {
        std::string mode;
        in >> mode;
        reply(engine.encode(id, mode, in));
      } else if (command == "psnr") {
        reply(engine.psnr(id));
      } else if (command == "save") {
        std::string path;
        in >> path;
        if (path.empty()) throw EngineError("save needs a path");
        reply(engine.save(id, path));
      } else if (command == "drop") {
        reply(engine.drop(id));
      } else {
        throw EngineError("unknown command '" + command + "'");
      }
    } catch (const std::exception& e) {
      reply({{"ok", false}, {"error", e.what()}});
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nic-seq-engine: %s\n", e.what());
    return 1;
  }
}
