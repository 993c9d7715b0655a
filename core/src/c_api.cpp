// The C API: translates between nic.h and the C++ core; catches every exception.
#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "codec/frame_codec.h"
#include "codec/rate_controller.h"
#include "codec/stream_encoder.h"
#include "common/error.h"
#include "io/file_bytes.h"
#include "io/safetensors.h"
#include "model/cpu_memory_pool.h"
#include "nic/nic.h"

struct NicContext {
  // First member: outlives the codec's tensors. Empty unless the host asked for the pool.
  std::optional<nic::CpuMemoryPoolUse> memory_pool;
  std::unique_ptr<nic::FrameCodec> codec;
  std::string fingerprint_hex;
};

struct NicFrameAnalysis {
  const NicContext* owner;
  std::shared_ptr<const nic::FrameAnalysis> analysis;
};

struct NicRateController {
  explicit NicRateController(const NicRateControlConfig& c) : controller(c) {}
  nic::RateController controller;
};

struct NicStreamEncoder {
  NicStreamEncoder(NicContext* c, NicRateController* rc, int delay)
      : context(c), encoder(*c->codec, rc ? &rc->controller : nullptr, delay) {}
  NicContext* context;
  nic::StreamEncoder encoder;
};

namespace {

thread_local std::string last_error;

NicStatus fail(NicStatus status, const std::string& message) {
  last_error = message;
  return status;
}

// Runs body, turning exceptions into a status and the thread's last error.
template <class Body>
NicStatus guarded(Body body) {
  try {
    last_error.clear();
    body();
    return NIC_OK;
  } catch (const nic::Error& e) {
    return fail(e.status(), e.what());
  } catch (const std::bad_alloc&) {
    return fail(NIC_ERROR_OUT_OF_MEMORY, "out of memory");
  } catch (const c10::OutOfMemoryError& e) {
    return fail(NIC_ERROR_OUT_OF_MEMORY,
                std::string("out of memory: ") + e.what_without_backtrace());
  } catch (const c10::Error& e) {
    // LibTorch's CPU allocator reports a failed allocation as a plain c10::Error.
    const std::string message = e.what_without_backtrace();
    if (message.find("not enough memory") != std::string::npos ||
        message.find("can't allocate memory") != std::string::npos)
      return fail(NIC_ERROR_OUT_OF_MEMORY, "out of memory: " + message);
    return fail(NIC_ERROR_INTERNAL, "internal error: " + message);
  } catch (const std::exception& e) {
    return fail(NIC_ERROR_INTERNAL, std::string("internal error: ") + e.what());
  } catch (...) {
    return fail(NIC_ERROR_INTERNAL, "internal error");
  }
}

// guarded(), for calls that run the model on a context: a frame coded without error tells the
// context's memory pool to start caching.
template <class Body>
NicStatus coding(NicContext* context, Body body) {
  const NicStatus status = guarded(body);
  if (status == NIC_OK && context->memory_pool) context->memory_pool->frame_coded();
  return status;
}

// Hands a frame to the caller in a malloc'd NicBuffer.
void copy_out(const std::vector<uint8_t>& frame, NicBuffer* out) {
  out->data = static_cast<uint8_t*>(std::malloc(frame.size()));
  if (!out->data) throw std::bad_alloc();
  std::memcpy(out->data, frame.data(), frame.size());
  out->size = frame.size();
}

// The analysis, checked to come from context.
const nic::FrameAnalysis& analysis_of(const NicContext* context, const NicFrameAnalysis* a) {
  if (!a || !a->analysis) throw nic::Error(NIC_ERROR_INVALID_ARGUMENT, "analysis is NULL");
  if (a->owner != context)
    throw nic::Error(NIC_ERROR_INVALID_ARGUMENT, "the analysis was made by another context");
  return *a->analysis;
}

// One frame under the controller, handed to the caller.
void encode_controlled(nic::FrameCodec& codec, nic::RateController& rc,
                       const nic::FrameAnalysis& analysis, NicBuffer* out, float* qp_used) {
  const nic::FrameCodec::SizedFrame frame = nic::encode_controlled(codec, rc, analysis);
  copy_out(frame.bytes, out);
  if (qp_used) *qp_used = frame.qp;
}

// ---- Models by name ----
// An installed model is a weights file in the installed models folder or, for a build used in
// place, the source tree's models/ (the installed copy wins); its name is the file name without
// ".safetensors".
constexpr const char* kWeightsSuffix = ".safetensors";

struct InstalledModel {
  std::string name, path;
};

std::vector<InstalledModel> installed_models() {
  std::vector<InstalledModel> models;
  for (const char* default_path : {NIC_DEFAULT_MODEL_PATH, NIC_SOURCE_MODEL_PATH}) {
    const std::filesystem::path folder = std::filesystem::path(default_path).parent_path();
    std::error_code ec;
    std::vector<InstalledModel> here;
    for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
      const std::string file = entry.path().filename().string();
      const size_t n = file.size(), suffix = std::strlen(kWeightsSuffix);
      if (n <= suffix || file.compare(n - suffix, suffix, kWeightsSuffix) != 0) continue;
      const std::string name = file.substr(0, n - suffix);
      const bool seen = std::any_of(models.begin(), models.end(),
                                    [&](const InstalledModel& m) { return m.name == name; });
      if (!seen) here.push_back({name, entry.path().string()});
    }
    std::sort(here.begin(), here.end(),
              [](const InstalledModel& a, const InstalledModel& b) { return a.name < b.name; });
    models.insert(models.end(), here.begin(), here.end());
  }
  return models;
}

// A path (it names a folder or ends in .safetensors), or the name of an installed model. A name
// that is no installed model but an existing file is taken as a path.
std::string resolve_model(const std::string& model) {
  const size_t suffix = std::strlen(kWeightsSuffix);
  const bool is_path =
      model.find('/') != std::string::npos ||
      (model.size() > suffix && model.compare(model.size() - suffix, suffix, kWeightsSuffix) == 0);
  if (is_path) return model;
  const std::vector<InstalledModel> models = installed_models();
  for (const InstalledModel& m : models)
    if (m.name == model) return m.path;
  std::error_code ec;
  if (std::filesystem::is_regular_file(model, ec)) return model;
  std::string names;
  for (const InstalledModel& m : models) names += (names.empty() ? "" : ", ") + m.name;
  throw nic::Error(NIC_ERROR_MODEL, "no model named '" + model +
                                        "' (installed: " + (names.empty() ? "none" : names) +
                                        "; a path to a weights file works too)");
}

std::string resolve_default_model() {
  if (const char* env = std::getenv("NIC_MODEL"); env && *env) return resolve_model(env);
  std::error_code ec;
  if (std::filesystem::exists(NIC_DEFAULT_MODEL_PATH, ec)) return NIC_DEFAULT_MODEL_PATH;
  if (std::filesystem::exists(NIC_SOURCE_MODEL_PATH, ec)) return NIC_SOURCE_MODEL_PATH;
  return NIC_DEFAULT_MODEL_PATH;
}

thread_local std::vector<InstalledModel> listed_models;  // nic_model_count's answer

// The fingerprint of a weights file, hashed once per process for each (path, size, time).
uint64_t file_fingerprint(const std::string& path) {
  struct Key {
    std::string path;
    uintmax_t size;
    std::filesystem::file_time_type time;
    bool operator==(const Key& o) const {
      return path == o.path && size == o.size && time == o.time;
    }
  };
  static std::mutex mutex;
  static std::vector<std::pair<Key, uint64_t>> known;
  const Key key{path, std::filesystem::file_size(path), std::filesystem::last_write_time(path)};
  {
    std::lock_guard<std::mutex> lock(mutex);
    for (const auto& [k, fingerprint] : known)
      if (k == key) return fingerprint;
  }
  const std::vector<uint8_t> bytes = nic::read_file_bytes(path);
  const uint64_t fingerprint = nic::fingerprint64(bytes.data(), bytes.size());
  std::lock_guard<std::mutex> lock(mutex);
  known.push_back({key, fingerprint});
  return fingerprint;
}

}  // namespace

extern "C" {

const char* nic_status_string(NicStatus status) {
  switch (status) {
    case NIC_OK:
      return "ok";
    case NIC_ERROR_INVALID_ARGUMENT:
      return "invalid argument";
    case NIC_ERROR_IO:
      return "I/O error";
    case NIC_ERROR_MODEL:
      return "model error";
    case NIC_ERROR_DEVICE:
      return "device unavailable";
    case NIC_ERROR_TRUNCATED:
      return "truncated stream";
    case NIC_ERROR_CORRUPT:
      return "corrupt stream";
    case NIC_ERROR_MODEL_MISMATCH:
      return "model mismatch";
    case NIC_ERROR_UNSUPPORTED:
      return "unsupported";
    case NIC_ERROR_OUT_OF_MEMORY:
      return "out of memory";
    case NIC_ERROR_INTERNAL:
      return "internal error";
    case NIC_ERROR_LIMIT:
      return "frame over the pixel limit";
  }
  return "unknown status";
}

const char* nic_last_error(void) { return last_error.c_str(); }

const char* nic_version(void) { return NIC_VERSION; }

void nic_options_init(NicOptions* options) {
  if (!options) return;
  options->model_path = nullptr;
  options->device = "cpu";
  options->threads = 0;
  options->effort = NIC_EFFORT_DEFAULT;
  options->max_pixels = 0;
  options->tile_pixels = 0;
  options->memory_pool = 0;
  options->precision = nullptr;
}

const char* nic_default_model_path(void) {
  thread_local std::string path;
  try {
    path = resolve_default_model();
  } catch (const nic::Error&) {
    path = std::getenv("NIC_MODEL");  // a name of no installed model: the context says so
  }
  return path.c_str();
}

size_t nic_model_count(void) {
  try {
    listed_models = installed_models();
  } catch (const std::exception&) {
    listed_models.clear();
  }
  return listed_models.size();
}

const char* nic_model_name(size_t index) {
  return index < listed_models.size() ? listed_models[index].name.c_str() : nullptr;
}

const char* nic_model_path(size_t index) {
  return index < listed_models.size() ? listed_models[index].path.c_str() : nullptr;
}

const char* nic_find_model(uint64_t model_fingerprint) {
  thread_local std::string found;
  std::vector<std::string> candidates;
  try {
    candidates.push_back(resolve_default_model());  // the likeliest, first
  } catch (const std::exception&) {
    // NIC_MODEL names no installed model: the installed ones are still candidates.
  }
  for (const InstalledModel& m : installed_models()) candidates.push_back(m.path);
  for (const std::string& path : candidates) {
    try {
      if (file_fingerprint(path) == model_fingerprint) {
        found = path;
        return found.c_str();
      }
    } catch (const std::exception&) {
      // A missing or unreadable file is not the model.
    }
  }
  return nullptr;
}

NicStatus nic_context_create(const NicOptions* options, NicContext** out_context) {
  if (!out_context) return fail(NIC_ERROR_INVALID_ARGUMENT, "out_context is NULL");
  *out_context = nullptr;
  return guarded([&] {
    NicOptions defaults;
    nic_options_init(&defaults);
    const NicOptions& o = options ? *options : defaults;
    nic::FrameCodecOptions fo;
    fo.model_path =
        (o.model_path && *o.model_path) ? resolve_model(o.model_path) : resolve_default_model();
    fo.device = o.device ? o.device : "cpu";
    fo.threads = o.threads;
    fo.effort = o.effort;
    fo.max_pixels = o.max_pixels;
    fo.tile_pixels = o.tile_pixels;
    fo.precision = o.precision ? o.precision : "auto";
    auto context = std::make_unique<NicContext>();
    if (o.memory_pool) context->memory_pool.emplace();
    context->codec = std::make_unique<nic::FrameCodec>(fo);
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx",
                  (unsigned long long)context->codec->model_fingerprint());
    context->fingerprint_hex = hex;
    *out_context = context.release();
  });
}

void nic_context_destroy(NicContext* context) { delete context; }

const char* nic_context_model_fingerprint(const NicContext* context) {
  return context ? context->fingerprint_hex.c_str() : "";
}

NicStatus nic_context_model_complexity(const NicContext* context, NicModelComplexity* out) {
  if (!context || !out) return fail(NIC_ERROR_INVALID_ARGUMENT, "context or out is NULL");
  return guarded([&] {
    const nic::ModelComplexity c = context->codec->model_complexity();
    out->encoder_kmacs_per_pixel = c.encoder() / 1e3;
    out->decoder_kmacs_per_pixel = c.decoder() / 1e3;
    out->parameters = uint64_t(context->codec->model_parameters());
  });
}

void nic_buffer_free(NicBuffer* buffer) {
  if (!buffer) return;
  std::free(buffer->data);
  buffer->data = nullptr;
  buffer->size = 0;
}

NicStatus nic_encode_rgb(NicContext* context, const uint8_t* rgb, uint32_t width, uint32_t height,
                         size_t stride, float qp, NicBuffer* out) {
  if (!context || !out) return fail(NIC_ERROR_INVALID_ARGUMENT, "context or out is NULL");
  out->data = nullptr;
  out->size = 0;
  return coding(context,
                [&] { copy_out(context->codec->encode(rgb, width, height, stride, qp), out); });
}

static void fill_info(const nic::FrameHeader& h, NicFrameInfo* info) {
  info->width = h.width;
  info->height = h.height;
  info->qp = h.qp();
  info->model_fingerprint = h.model_fingerprint;
  info->frame_size = h.frame_size();
  info->version = h.version;
}

NicStatus nic_peek_frame(const uint8_t* data, size_t size, NicFrameInfo* info) {
  if (!data || !info) return fail(NIC_ERROR_INVALID_ARGUMENT, "data or info is NULL");
  return guarded([&] { fill_info(nic::parse_frame_header(data, size), info); });
}

NicStatus nic_scan_frame(const uint8_t* data, size_t size, NicFrameScan* scan) {
  if ((!data && size > 0) || !scan) return fail(NIC_ERROR_INVALID_ARGUMENT, "data or scan is NULL");
  return guarded([&] {
    const nic::FrameScan found = nic::scan_for_frame(data, size);
    *scan = NicFrameScan{};
    scan->skip = found.skip;
    scan->frame_size = found.frame_size;
    if (found.frame_size > 0) fill_info(found.header, &scan->info);
  });
}

NicStatus nic_decode_rgb(NicContext* context, const uint8_t* data, size_t size, uint8_t* rgb,
                         size_t stride, size_t capacity, NicFrameInfo* info) {
  if (!context) return fail(NIC_ERROR_INVALID_ARGUMENT, "context is NULL");
  return coding(context, [&] {
    nic::FrameHeader h = context->codec->decode(data, size, rgb, stride, capacity);
    if (info) fill_info(h, info);
  });
}

NicStatus nic_encode_rgb_target_size(NicContext* context, const uint8_t* rgb, uint32_t width,
                                     uint32_t height, size_t stride, size_t target_bytes,
                                     NicBuffer* out, float* qp_used) {
  if (!context || !out) return fail(NIC_ERROR_INVALID_ARGUMENT, "context or out is NULL");
  out->data = nullptr;
  out->size = 0;
  if (target_bytes == 0) return fail(NIC_ERROR_INVALID_ARGUMENT, "target size must be > 0");
  return coding(context, [&] {
    auto analysis = context->codec->analyze(rgb, width, height, stride);
    const double target = double(target_bytes);
    auto frame = context->codec->encode_to_size(*analysis, target, target, NIC_QP_MIN, NIC_QP_MAX);
    copy_out(frame.bytes, out);
    if (qp_used) *qp_used = frame.qp;
  });
}

void nic_rate_control_config_init(NicRateControlConfig* config) {
  if (!config) return;
  config->mode = NIC_RATE_CONSTANT_QP;
  config->qp = NIC_QP_DEFAULT;
  config->bitrate = 0;
  config->framerate = 30;
  config->buffer_seconds = 1.0;
  config->window_frames = 30;
  config->min_qp = NIC_QP_MIN;
  config->max_qp = NIC_QP_MAX;
  config->max_bitrate = 0;
}

NicStatus nic_rate_controller_create(const NicRateControlConfig* config,
                                     NicRateController** out_controller) {
  if (!config || !out_controller) return fail(NIC_ERROR_INVALID_ARGUMENT, "NULL argument");
  *out_controller = nullptr;
  return guarded([&] { *out_controller = new NicRateController(*config); });
}

NicStatus nic_rate_controller_reconfigure(NicRateController* controller,
                                          const NicRateControlConfig* config) {
  if (!controller || !config) return fail(NIC_ERROR_INVALID_ARGUMENT, "NULL argument");
  return guarded([&] { controller->controller.reconfigure(*config); });
}

void nic_rate_controller_destroy(NicRateController* controller) { delete controller; }

NicStatus nic_rate_controller_frame_coded(NicRateController* controller, size_t bytes) {
  if (!controller) return fail(NIC_ERROR_INVALID_ARGUMENT, "NULL argument");
  return guarded([&] { controller->controller.frame_coded(bytes); });
}

NicStatus nic_encode_rgb_controlled(NicContext* context, NicRateController* controller,
                                    const uint8_t* rgb, uint32_t width, uint32_t height,
                                    size_t stride, NicBuffer* out, float* qp_used) {
  if (!context || !controller || !out) return fail(NIC_ERROR_INVALID_ARGUMENT, "NULL argument");
  out->data = nullptr;
  out->size = 0;
  return coding(context, [&] {
    auto analysis = context->codec->analyze(rgb, width, height, stride);
    encode_controlled(*context->codec, controller->controller, *analysis, out, qp_used);
  });
}

NicStatus nic_analyze_rgb(NicContext* context, const uint8_t* rgb, uint32_t width, uint32_t height,
                          size_t stride, NicFrameAnalysis** out_analysis) {
  if (!context || !out_analysis) return fail(NIC_ERROR_INVALID_ARGUMENT, "NULL argument");
  *out_analysis = nullptr;
  return coding(context, [&] {
    auto analysis = context->codec->analyze(rgb, width, height, stride);
    *out_analysis = new NicFrameAnalysis{context, std::move(analysis)};
  });
}

void nic_frame_analysis_destroy(NicFrameAnalysis* analysis) { delete analysis; }

NicStatus nic_encode_analysis(NicContext* context, const NicFrameAnalysis* analysis, float qp,
                              NicBuffer* out) {
  if (!context || !out) return fail(NIC_ERROR_INVALID_ARGUMENT, "context or out is NULL");
  out->data = nullptr;
  out->size = 0;
  return coding(context,
                [&] { copy_out(context->codec->encode(analysis_of(context, analysis), qp), out); });
}

NicStatus nic_encode_analysis_controlled(NicContext* context, NicRateController* controller,
                                         const NicFrameAnalysis* analysis, NicBuffer* out,
                                         float* qp_used) {
  if (!context || !controller || !out) return fail(NIC_ERROR_INVALID_ARGUMENT, "NULL argument");
  out->data = nullptr;
  out->size = 0;
  return coding(context, [&] {
    encode_controlled(*context->codec, controller->controller, analysis_of(context, analysis), out,
                      qp_used);
  });
}

NicStatus nic_stream_encoder_create(NicContext* context, NicRateController* controller, int delay,
                                    NicStreamEncoder** out_encoder) {
  if (!context || !out_encoder) return fail(NIC_ERROR_INVALID_ARGUMENT, "NULL argument");
  *out_encoder = nullptr;
  return guarded([&] { *out_encoder = new NicStreamEncoder(context, controller, delay); });
}

void nic_stream_encoder_destroy(NicStreamEncoder* encoder) { delete encoder; }

int nic_stream_encoder_delay(const NicStreamEncoder* encoder) {
  return encoder ? encoder->encoder.delay() : 0;
}

NicStatus nic_stream_encoder_encode(NicStreamEncoder* encoder, const NicStreamFrame* frame,
                                    NicBuffer* out, NicCodedFrame* coded) {
  if (!encoder || !out) return fail(NIC_ERROR_INVALID_ARGUMENT, "NULL argument");
  out->data = nullptr;
  out->size = 0;
  return coding(encoder->context, [&] {
    std::optional<nic::StreamFrame> next;
    if (frame)
      next = nic::StreamFrame{frame->rgb,    frame->width, frame->height,
                              frame->stride, frame->qp,    frame->user_data};
    std::optional<nic::CodedStreamFrame> done = encoder->encoder.encode(next ? &*next : nullptr);
    if (!done) return;
    copy_out(done->bytes, out);
    if (coded) *coded = NicCodedFrame{done->qp, done->user_data};
  });
}

}  // extern "C"
