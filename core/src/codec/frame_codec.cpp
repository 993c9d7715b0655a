#include "codec/frame_codec.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>

#include "codec/latent_refinement.h"
#include "codec/rate_parameters.h"
#include "codec/tiled_transforms.h"
#include "common/error.h"
#include "entropy/symbol_coder.h"
#include "model/device.h"
#include "model/intra_op_threads.h"
#include "model/latent_coding.h"
#include "model/weights.h"

namespace nic {

namespace {

// Symbols of z beyond this magnitude never come from a real image: the encoder saturates, the
// decoder reports corruption.
constexpr int32_t kMaxHyperSymbol = 1 << 15;

struct LatentShape {
  int64_t channels, height, width;
  int64_t plane() const { return height * width; }
  int64_t size() const { return channels * plane(); }
};

// The latents of one coding step in coding order, and the channel-group substreams they split into:
// group g holds rows [channels * g / G, channels * (g + 1) / G) of the step's [channels, m] layout.
struct StepSlice {
  int64_t begin, end;  // flat range in the step's coding-order vector
};
StepSlice group_slice(int64_t channels, int64_t per_channel, int group) {
  const int groups = LatentCoding::kChannelGroups;
  return {channels * group / groups * per_channel, channels * (group + 1) / groups * per_channel};
}

// Runs task(0) .. task(count - 1) on `threads` of LibTorch's intra-op threads. Threads of our own
// would compete for the cores with that OpenMP team, whose workers keep spinning for a while after
// each of the networks' parallel regions.
template <class Task>
void run_parallel(int count, int threads, Task task) {
  if (threads <= 1 || count <= 1) {
    for (int i = 0; i < count; ++i) task(i);
    return;
  }
  IntraOpThreads scope(threads);
  at::parallel_for(0, count, 1, [&](int64_t begin, int64_t end) {  // rethrows the first failure
    for (int64_t i = begin; i < end; ++i) task(int(i));
  });
}

std::vector<int32_t> to_int32_vector(const torch::Tensor& t) {
  // Narrowed on the device, so that half the bytes cross to the host (page-locked on a GPU).
  const torch::Tensor c = to_host(t.to(torch::kInt32).contiguous());
  return std::vector<int32_t>(c.data_ptr<int32_t>(), c.data_ptr<int32_t>() + c.numel());
}

// "auto" is float16 on a GPU, where it halves the transforms' time and memory traffic and keeps
// the reconstruction within 0.05 dB of float32 (scripts/gpu-check.sh measures it). On the CPU it
// is bfloat16 where AMX runs it (1920x1080: 2.4x the float32 speed each way, +0.30% BD-rate;
// docs/design.md), else float32, which is faster than either half type there.
torch::Dtype float_network_dtype(const std::string& precision, const torch::Device& device) {
  if (precision == "auto" || precision.empty()) {
    if (device.is_cuda()) return torch::kHalf;
    return cpu_has_amx_bfloat16() ? torch::kBFloat16 : torch::kFloat;
  }
  if (precision == "float32") return torch::kFloat;
  if (precision == "float16") return torch::kHalf;
  if (precision == "bfloat16") {
    require(!device.is_cpu() || cpu_runs_bfloat16_convolutions(), NIC_ERROR_UNSUPPORTED,
            "precision 'bfloat16': this CPU has no bfloat16 convolutions (they need AVX-512 "
            "BW/VL/DQ, AVX-NE-CONVERT or AMX); use auto, float32 or float16");
    return torch::kBFloat16;
  }
  throw Error(NIC_ERROR_INVALID_ARGUMENT,
              "precision '" + precision + "': use auto, float32, float16 or bfloat16");
}

}  // namespace

class FrameAnalysis {
 public:
  uint32_t width = 0, height = 0;
  LatentShape y_shape{}, z_shape{};
  torch::Tensor y;            // [1, N, h, w] float
  torch::Tensor z_hat;        // [1, Cz, h/4, w/4] float, integer-valued
  torch::Tensor features;     // hyper features for the means
  torch::Tensor hyper_means;  // the first step's means
  torch::Tensor scale_index;  // int64 [1, N, h, w], the hyperprior's scale index (before the step)
  torch::Tensor image;        // the padded input [1, 3, H, W], kept for refinement (effort > 1)
  bool tiled = false;         // analysed in tiles: too large to refine, coded at effort 1
};

// The symbols of y at one qp, ready for entropy coding: per coding step, in coding order.
struct QuantizedLatents {
  std::vector<std::vector<int32_t>> y_symbols;        // [step][N * m]
  std::vector<std::vector<int32_t>> y_scale_indices;  // table (scale) index of each
  std::vector<int32_t> z_symbols;                     // flat [Cz, h, w]
};

struct ParsedLatents {
  FrameHeader header;
  LatentShape y_shape{}, z_shape{};
  torch::Tensor z_hat;
  torch::Tensor step;
  torch::Tensor y_symbols;                              // float [1, N, h, w], integer-valued
  std::vector<std::vector<int32_t>> y_symbols_by_step;  // coding order
};

struct FrameCodec::Impl {
  torch::Device device{torch::kCPU};
  CodecWeights weights;
  RateParameters rate;
  int threads = 1;
  int refinement_iterations = 0;  // of the encoder effort

  // Frames up to this many pixels (after padding) run on one thread: their kernels are too short
  // for a team to pay off (128x64 on 2 quiet cores: encode 0.011 s with one thread, 0.012 s with
  // two), and when another process holds a core, each OpenMP barrier waits out its time slice
  // (the same frame, a trainer beside it: up to 0.2 s with two threads, 0.012 s with one).
  static constexpr uint64_t kSingleThreadPixels = 128 * 128;
  int threads_for(uint32_t width, uint32_t height) const {
    return uint64_t(ModelConfig::padded(width)) * ModelConfig::padded(height) <= kSingleThreadPixels
               ? 1
               : threads;
  }
  uint64_t max_pixels = NIC_MAX_PIXELS;
  uint64_t tile_pixels = kDefaultTilePixels;

  // Refuses a frame over the pixel limit before anything of its size is allocated.
  void check_pixel_limit(uint32_t width, uint32_t height, const char* what) const {
    const uint64_t pixels = uint64_t(width) * height;
    if (pixels > max_pixels)
      throw Error(NIC_ERROR_LIMIT, std::string(what) + ": " + std::to_string(width) + "x" +
                                       std::to_string(height) + " = " + std::to_string(pixels) +
                                       " pixels, over this context's limit of " +
                                       std::to_string(max_pixels));
  }
  double perturbation = 0.0;

  torch::Tensor perturb(const torch::Tensor& t) const {
    if (perturbation == 0.0) return t;
    return t + (torch::rand_like(t) - 0.5) * (2.0 * perturbation);
  }

  LatentCoding coding() const {
    return LatentCoding(weights.config, weights.model->means,
                        [this](const torch::Tensor& t) { return perturb(t); });
  }

  // Per-channel steps (float, [1, N, 1, 1]) and the hyperprior's table index of every latent at
  // qp_fixed (int64 [1, N, h, w]).
  std::pair<torch::Tensor, torch::Tensor> quantizer(const torch::Tensor& scale_index,
                                                    uint16_t qp_fixed) const {
    const std::vector<int32_t> units = rate.step_units(qp_fixed);
    const std::vector<float> steps = RateParameters::steps_from_units(units);
    torch::Tensor step = torch::tensor(steps).view({1, -1, 1, 1}).to(device);
    // Index of sigma_y / step on the 1/8-octave ladder: (32 * i - units + 16) / 32, floored.
    torch::Tensor u = torch::tensor(units, torch::kInt64).view({1, -1, 1, 1}).to(device);
    constexpr int64_t per_index = kStepUnitsPerOctave / kScaleIndexStepsPerOctave;
    torch::Tensor k = torch::div(scale_index * per_index - u + per_index / 2, per_index, "floor")
                          .clamp(0, kScaleLevels - 1);
    return {step, k};
  }

  // quantize() also hands back the symbol tensor (float, integer-valued) when asked.
  QuantizedLatents quantize(const FrameAnalysis& a, uint16_t qp_fixed,
                            torch::Tensor* symbols_out = nullptr);
  ParsedLatents parse(const uint8_t* data, size_t size);
  std::vector<uint8_t> write(const FrameAnalysis& a, const QuantizedLatents& q, uint16_t qp_fixed);
  double bits(const FrameAnalysis& a, const QuantizedLatents& q) const;

  // The rate-distortion trade-off at qp: lambda interpolated log-linearly between the rate
  // anchors, as the step is.
  double lambda_at(uint16_t qp_fixed) const {
    const std::vector<double>& l = weights.config.anchor_lambdas;
    const auto [segment, offset] = RateParameters::anchor_position(qp_fixed, l.size());
    const double t = double(offset) / kMaxQpFixed;
    return std::exp((1.0 - t) * std::log(l[segment]) + t * std::log(l[segment + 1]));
  }
  // The symbols to code for a at qp: its own, or those of its latents refined for qp when they
  // code with a lower loss (lambda * 255^2 * MSE of the decoded pixels + bits per pixel).
  QuantizedLatents best_symbols(const FrameAnalysis& a, uint16_t qp_fixed);

  // How the transforms split a frame of this size (codec/tiled_transforms.h).
  TileGrid tile_grid(uint32_t width, uint32_t height) const {
    return TileGrid::for_frame(weights.config, width, height, tile_pixels);
  }
};

FrameCodec::FrameCodec(const FrameCodecOptions& options) : impl_(std::make_unique<Impl>()) {
  require(options.threads >= 0 && options.threads <= 256, NIC_ERROR_INVALID_ARGUMENT,
          "threads must be between 0 and 256");
  impl_->device = parse_device(options.device);
  // 0 means "use every core". The count holds for this codec's calls only (IntraOpThreads).
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  impl_->threads = options.threads > 0 ? options.threads : int(cores);
  impl_->refinement_iterations = refinement_iterations(options.effort);
  require(options.max_pixels <= NIC_MAX_PIXELS, NIC_ERROR_INVALID_ARGUMENT,
          "max_pixels is above NIC_MAX_PIXELS (16384 * 16384)");
  if (options.max_pixels > 0) impl_->max_pixels = options.max_pixels;
  require(options.tile_pixels == 0 || options.tile_pixels >= uint64_t(ModelConfig::kPadMultiple) *
                                                                 ModelConfig::kPadMultiple,
          NIC_ERROR_INVALID_ARGUMENT, "tile_pixels must be 0 or at least 4096 (one 64x64 block)");
  if (options.tile_pixels > 0) impl_->tile_pixels = options.tile_pixels;
  IntraOpThreads scope(impl_->threads);
  const torch::Dtype dtype = float_network_dtype(options.precision, impl_->device);
  impl_->weights = load_weights(options.model_path, impl_->device);
  if (dtype != torch::kFloat) impl_->weights.model->set_float_dtype(dtype);
  impl_->rate = RateParameters(impl_->weights.q_basic_units, impl_->weights.anchor_units);
}

FrameCodec::~FrameCodec() = default;

uint64_t FrameCodec::model_fingerprint() const { return impl_->weights.fingerprint; }

ModelComplexity FrameCodec::model_complexity() const {
  return macs_per_pixel(*impl_->weights.model);
}

int64_t FrameCodec::model_parameters() const { return count_parameters(*impl_->weights.model); }

void FrameCodec::set_float_perturbation(double amplitude) { impl_->perturbation = amplitude; }

void FrameCodec::check_frame(const uint8_t* rgb, uint32_t width, uint32_t height,
                             size_t stride) const {
  require(rgb != nullptr, NIC_ERROR_INVALID_ARGUMENT, "encode: no pixels");
  require(width >= 1 && height >= 1 && width <= NIC_MAX_DIMENSION && height <= NIC_MAX_DIMENSION,
          NIC_ERROR_INVALID_ARGUMENT,
          "encode: size " + std::to_string(width) + "x" + std::to_string(height) +
              " is outside 1x1 .. 16384x16384");
  require(stride >= size_t(width) * 3, NIC_ERROR_INVALID_ARGUMENT,
          "encode: stride is smaller than width * 3");
  impl_->check_pixel_limit(width, height, "encode");
}

bool FrameCodec::on_gpu() const { return impl_->device.is_cuda(); }

std::unique_ptr<OwnDeviceStream> FrameCodec::own_device_stream() const {
  return std::make_unique<OwnDeviceStream>(impl_->device);
}

std::shared_ptr<const FrameAnalysis> FrameCodec::analyze(const uint8_t* rgb, uint32_t width,
                                                         uint32_t height, size_t stride) {
  check_frame(rgb, width, height, stride);
  IntraOpThreads scope(impl_->threads_for(width, height));
  c10::InferenceMode guard;
  ImageCodecModel& m = impl_->weights.model;
  auto a = std::make_shared<FrameAnalysis>();
  a->width = width;
  a->height = height;
  const RgbSource source{rgb, width, height, stride};
  const TileGrid grid = impl_->tile_grid(width, height);
  a->tiled = !grid.single();
  if (impl_->refinement_iterations > 0 && !a->tiled) {
    a->image = rgb_region_to_tensor(source, 0, ModelConfig::padded(height), 0,
                                    ModelConfig::padded(width), impl_->device);
    a->y = m->g_a(a->image);
  } else {
    a->y = analyze_tiled(m->g_a, source, grid, impl_->device);
  }
  torch::Tensor z = m->h_a(a->y);
  a->z_hat = torch::round(z).clamp(-kMaxHyperSymbol, kMaxHyperSymbol);
  a->y_shape = {a->y.size(1), a->y.size(2), a->y.size(3)};
  a->z_shape = {z.size(1), z.size(2), z.size(3)};
  a->scale_index = impl_->weights.scale_net.forward(a->z_hat);
  a->features = impl_->perturb(m->hyper_mean_synthesis(a->z_hat));
  a->hyper_means = impl_->coding().hyper_means(a->features);
  return a;
}

QuantizedLatents FrameCodec::Impl::quantize(const FrameAnalysis& a, uint16_t qp_fixed,
                                            torch::Tensor* symbols_out) {
  c10::InferenceMode guard;
  const LatentCoding coding = this->coding();
  auto [step, base_index] = quantizer(a.scale_index, qp_fixed);
  const torch::Tensor symbols = coding.quantize(a.y, a.features, a.hyper_means, step);
  if (symbols_out) *symbols_out = symbols;
  const torch::Tensor flat = symbols.flatten();
  const LatentShape& s = a.y_shape;
  QuantizedLatents q;
  for (int k = 0; k < coding.steps(); ++k) {
    const torch::Tensor positions =
        coding.step_positions(k, s.channels, s.height, s.width).flatten().to(device);
    q.y_symbols.push_back(to_int32_vector(flat.index_select(0, positions)));
    q.y_scale_indices.push_back(
        to_int32_vector(coding.scale_indices(k, base_index, symbols, weights.context_scales)));
  }
  q.z_symbols = to_int32_vector(a.z_hat);
  return q;
}

QuantizedLatents FrameCodec::Impl::best_symbols(const FrameAnalysis& a, uint16_t qp_fixed) {
  if (refinement_iterations <= 0 || a.tiled) return quantize(a, qp_fixed);
  require(a.image.defined(), NIC_ERROR_INVALID_ARGUMENT,
          "encode: the analysis was made without the image that refinement needs");
  const LatentCoding coding = this->coding();
  // Plain variables, not a structured binding: the lambda below captures them (C++17).
  torch::Tensor step, base_index;
  std::tie(step, base_index) = quantizer(a.scale_index, qp_fixed);
  const int64_t h = a.height, w = a.width;
  const double lambda = lambda_at(qp_fixed);
  // Each candidate is quantized once; its loss counts exact bits and the decoder's 8-bit pixels.
  struct Candidate {
    QuantizedLatents symbols;
    double loss;
  };
  auto candidate = [&](const FrameAnalysis& latents) {
    torch::Tensor symbols;
    Candidate c{quantize(latents, qp_fixed, &symbols), 0.0};
    c10::InferenceMode guard;
    const torch::Tensor y_hat = coding.reconstruct(symbols, a.features, a.hyper_means, step);
    const torch::Tensor x_hat =
        (weights.model->g_s(y_hat).slice(2, 0, h).slice(3, 0, w).clamp(0.0, 1.0) * 255.0).round();
    const double mse =
        (x_hat - a.image.slice(2, 0, h).slice(3, 0, w) * 255.0).pow(2).mean().item<double>();
    c.loss = lambda * mse + bits(latents, c.symbols) / double(h * w);
    return c;
  };
  const LatentSearchSpace space{coding,
                                weights.model->g_s,
                                weights.context_scales,
                                a.features,
                                a.hyper_means,
                                step,
                                base_index,
                                weights.config.latent_distribution_shape};
  FrameAnalysis refined = a;
  refined.y =
      refine_latents(space, RefinementTarget{a.image, h, w, lambda}, a.y, refinement_iterations);
  Candidate single = candidate(a), better = candidate(refined);
  // Refinement never makes a frame worse.
  return better.loss < single.loss ? std::move(better.symbols) : std::move(single.symbols);
}

std::vector<uint8_t> FrameCodec::encode(const FrameAnalysis& analysis, float qp,
                                        std::vector<int32_t>* coded_symbols) {
  IntraOpThreads scope(impl_->threads_for(analysis.width, analysis.height));
  const uint16_t qp_fixed = FrameHeader::qp_to_fixed(qp);
  const QuantizedLatents q = impl_->best_symbols(analysis, qp_fixed);
  if (coded_symbols) {
    *coded_symbols = q.z_symbols;
    for (const std::vector<int32_t>& step : q.y_symbols)
      coded_symbols->insert(coded_symbols->end(), step.begin(), step.end());
  }
  return impl_->write(analysis, q, qp_fixed);
}

std::vector<uint8_t> FrameCodec::Impl::write(const FrameAnalysis& a, const QuantizedLatents& q,
                                             uint16_t qp_fixed) {
  const CodecWeights& w = weights;
  const int substream_count = int(1 + q.y_symbols.size() * LatentCoding::kChannelGroups);
  std::vector<std::vector<uint8_t>> substreams(static_cast<size_t>(substream_count));
  run_parallel(substream_count, threads_for(a.width, a.height), [&](int index) {
    SymbolEncoder enc;
    if (index == 0) {
      for (int64_t i = 0; i < a.z_shape.size(); ++i)
        enc.encode(q.z_symbols[i], w.z_tables[i / a.z_shape.plane()]);
    } else {
      const size_t step = size_t(index - 1) / LatentCoding::kChannelGroups;
      const std::vector<int32_t>& symbols = q.y_symbols[step];
      const std::vector<int32_t>& tables = q.y_scale_indices[step];
      const StepSlice slice =
          group_slice(a.y_shape.channels, int64_t(symbols.size()) / a.y_shape.channels,
                      (index - 1) % LatentCoding::kChannelGroups);
      for (int64_t i = slice.begin; i < slice.end; ++i)
        enc.encode(symbols[i], w.y_tables[tables[i]]);
    }
    substreams[size_t(index)] = enc.finish();
  });
  FrameHeader header;
  header.version = uint8_t(w.config.bitstream_version());
  header.width = a.width;
  header.height = a.height;
  header.model_fingerprint = w.fingerprint;
  header.qp_fixed = qp_fixed;
  return write_frame(header, substreams);
}

double FrameCodec::estimate_bits(const FrameAnalysis& a, float qp) {
  IntraOpThreads scope(impl_->threads_for(a.width, a.height));
  const uint16_t qp_fixed = FrameHeader::qp_to_fixed(qp);
  return impl_->bits(a, impl_->quantize(a, qp_fixed));
}

double FrameCodec::Impl::bits(const FrameAnalysis& a, const QuantizedLatents& q) const {
  const CodecWeights& w = weights;
  double bits = 0;
  for (int64_t i = 0; i < a.z_shape.size(); ++i)
    bits += SymbolEncoder::cost_bits(q.z_symbols[i], w.z_tables[i / a.z_shape.plane()]);
  for (size_t k = 0; k < q.y_symbols.size(); ++k)
    for (size_t i = 0; i < q.y_symbols[k].size(); ++i)
      bits += SymbolEncoder::cost_bits(q.y_symbols[k][i], w.y_tables[q.y_scale_indices[k][i]]);
  return bits;
}

FrameCodec::SizedFrame FrameCodec::encode_to_size(const FrameAnalysis& a, double target_bytes,
                                                  double max_bytes, float min_qp, float max_qp) {
  IntraOpThreads scope(impl_->threads_for(a.width, a.height));
  uint16_t lo = FrameHeader::qp_to_fixed(min_qp), hi = FrameHeader::qp_to_fixed(max_qp);
  // Bytes beyond the symbols' bits: header, CRC and about 8 bytes of rANS flush per substream.
  const int substream_count = impl_->coding().substreams();
  const double overhead =
      double(FrameHeader{}.header_size()) + 4.0 * substream_count + 4.0 + 8.0 * substream_count;
  auto estimate = [&](uint16_t qp_fixed) {
    return impl_->bits(a, impl_->quantize(a, qp_fixed)) / 8.0 + overhead;
  };
  // Smallest qp (best quality) whose estimate fits; bits fall as qp rises. False position on
  // log(bytes) (Illinois variant) brackets it in a handful of estimates; it stops once the
  // estimate is within 0.5% under the target or the bracket is one qp step wide.
  uint16_t qp = lo;
  double size_lo = estimate(lo);
  if (size_lo > target_bytes) {
    double size_hi = estimate(hi);
    double f_lo = std::log(size_lo / target_bytes), f_hi = std::log(size_hi / target_bytes);
    int moved_last = 0;  // +1: lo moved, -1: hi moved
    while (hi - lo > 1 && size_hi < 0.995 * target_bytes) {
      const double t = f_lo / (f_lo - f_hi);
      const int mid = std::clamp(lo + int(std::lround(t * (hi - lo))), lo + 1, hi - 1);
      const double size_mid = estimate(uint16_t(mid));
      const double f_mid = std::log(size_mid / target_bytes);
      if (f_mid > 0) {
        lo = uint16_t(mid), f_lo = f_mid;
        if (moved_last == 1) f_hi /= 2;  // Illinois: keep a stale end from stalling
        moved_last = 1;
      } else {
        hi = uint16_t(mid), f_hi = f_mid, size_hi = size_mid;
        if (moved_last == -1) f_lo /= 2;
        moved_last = -1;
      }
    }
    qp = hi;
  }
  auto encode_at = [&](uint16_t qp_fixed) {
    return impl_->write(a, impl_->best_symbols(a, qp_fixed), qp_fixed);
  };
  std::vector<uint8_t> frame = encode_at(qp);
  // The estimate is exact up to the rANS flush; if the real frame still overflows, step up.
  const uint16_t top = FrameHeader::qp_to_fixed(max_qp);
  while (double(frame.size()) > max_bytes && qp < top) {
    qp = uint16_t(std::min<int>(top, qp + 16));
    frame = encode_at(qp);
  }
  return {std::move(frame), FrameHeader::qp_from_fixed(qp)};
}

std::vector<uint8_t> FrameCodec::encode(const uint8_t* rgb, uint32_t width, uint32_t height,
                                        size_t stride, float qp) {
  FrameHeader::qp_to_fixed(qp);  // reject a bad qp before the expensive analysis
  return encode(*analyze(rgb, width, height, stride), qp);
}

ParsedLatents FrameCodec::Impl::parse(const uint8_t* data, size_t size) {
  Impl& impl = *this;
  require(data != nullptr, NIC_ERROR_INVALID_ARGUMENT, "decode: no data");
  ParsedFrame frame = parse_frame(data, size);
  const FrameHeader& h = frame.header;
  check_pixel_limit(h.width, h.height, "decode");
  // The frame's own thread count from here on (the callers' scopes restore theirs).
  IntraOpThreads scope(threads_for(h.width, h.height));
  const CodecWeights& w = impl.weights;
  if (h.model_fingerprint != w.fingerprint) {
    char msg[160];
    std::snprintf(msg, sizeof msg,
                  "frame was encoded with model %016llx, but model %016llx is loaded",
                  (unsigned long long)h.model_fingerprint, (unsigned long long)w.fingerprint);
    throw Error(NIC_ERROR_MODEL_MISMATCH, msg);
  }
  require(h.version == w.config.bitstream_version(), NIC_ERROR_CORRUPT,
          "frame has bitstream version " + std::to_string(h.version) +
              ", but the model codes version " + std::to_string(w.config.bitstream_version()));
  const LatentCoding coding = impl.coding();
  require(frame.substreams.size() == size_t(coding.substreams()), NIC_ERROR_CORRUPT,
          "frame has " + std::to_string(frame.substreams.size()) + " substreams, expected " +
              std::to_string(coding.substreams()));
  ParsedLatents p;
  p.header = h;
  const int64_t ph = ModelConfig::padded(h.height), pw = ModelConfig::padded(h.width);
  p.y_shape = {w.config.latent_channels, ph / ModelConfig::kLatentDownscale,
               pw / ModelConfig::kLatentDownscale};
  p.z_shape = {w.config.hyper_channels, ph / ModelConfig::kHyperDownscale,
               pw / ModelConfig::kHyperDownscale};

  std::vector<int32_t> z(p.z_shape.size());
  {
    SymbolDecoder dec(frame.substreams[0].first, frame.substreams[0].second);
    for (int64_t i = 0; i < p.z_shape.size(); ++i) {
      z[i] = dec.decode(w.z_tables[i / p.z_shape.plane()]);
      require(std::abs(int64_t(z[i])) <= kMaxHyperSymbol, NIC_ERROR_CORRUPT,
              "hyper-latent symbol out of range");
    }
    dec.check_finished();
  }
  torch::Tensor z_host = host_tensor({1, p.z_shape.channels, p.z_shape.height, p.z_shape.width},
                                     torch::kInt32, impl.device);
  std::memcpy(z_host.data_ptr<int32_t>(), z.data(), z.size() * sizeof(int32_t));
  p.z_hat = z_host.to(impl.device).to(torch::kFloat32);
  c10::InferenceMode guard;
  torch::Tensor base_index;
  std::tie(p.step, base_index) = impl.quantizer(w.scale_net.forward(p.z_hat), h.qp_fixed);
  // Step by step: a step's tables depend on the symbols of the steps before it.
  const LatentShape& s = p.y_shape;
  // On the host, where the decoded symbols land; page-locked on a GPU, which reads it each step.
  torch::Tensor symbols =
      host_tensor({1, s.channels, s.height, s.width}, torch::kInt64, impl.device).zero_();
  for (int k = 0; k < coding.steps(); ++k) {
    const std::vector<int32_t> tables = to_int32_vector(
        coding.scale_indices(k, base_index, symbols.to(impl.device), w.context_scales));
    std::vector<int32_t> decoded(tables.size());
    run_parallel(LatentCoding::kChannelGroups, threads_for(h.width, h.height), [&](int g) {
      const int index = 1 + k * LatentCoding::kChannelGroups + g;
      SymbolDecoder dec(frame.substreams[size_t(index)].first,
                        frame.substreams[size_t(index)].second);
      const StepSlice slice = group_slice(s.channels, int64_t(tables.size()) / s.channels, g);
      bool in_range = true;
      for (int64_t i = slice.begin; i < slice.end; ++i) {
        const int32_t v = dec.decode(w.y_tables[tables[i]]);
        in_range &= std::abs(int64_t(v)) <= LatentCoding::kMaxSymbol;
        decoded[i] = v;
      }
      require(in_range, NIC_ERROR_CORRUPT, "latent symbol out of range");
      dec.check_finished();
    });
    const torch::Tensor positions =
        coding.step_positions(k, s.channels, s.height, s.width).flatten();
    symbols.view(-1).index_copy_(0, positions, torch::tensor(decoded, torch::kInt64));
    p.y_symbols_by_step.push_back(std::move(decoded));
  }
  p.y_symbols = symbols.to(impl.device, torch::kFloat32);
  return p;
}

FrameHeader FrameCodec::decode(const uint8_t* data, size_t size, uint8_t* rgb, size_t stride,
                               size_t capacity) {
  ParsedLatents p = impl_->parse(data, size);  // sets the frame's thread count for its own work
  const FrameHeader& h = p.header;
  IntraOpThreads scope(impl_->threads_for(h.width, h.height));
  require(rgb != nullptr && stride >= size_t(h.width) * 3 &&
              capacity >= (size_t(h.height) - 1) * stride + size_t(h.width) * 3,
          NIC_ERROR_INVALID_ARGUMENT,
          "decode: output buffer too small for " + std::to_string(h.width) + "x" +
              std::to_string(h.height));
  c10::InferenceMode guard;
  ImageCodecModel& m = impl_->weights.model;
  const LatentCoding coding = impl_->coding();
  torch::Tensor features = impl_->perturb(m->hyper_mean_synthesis(p.z_hat));
  torch::Tensor y_hat =
      coding.reconstruct(p.y_symbols, features, coding.hyper_means(features), p.step);
  synthesize_tiled(m->g_s, y_hat, impl_->tile_grid(h.width, h.height), h.width, h.height, rgb,
                   stride, [this](const torch::Tensor& x) { return impl_->perturb(x); });
  return h;
}

std::vector<int32_t> FrameCodec::parse_symbols(const uint8_t* data, size_t size) {
  IntraOpThreads scope(impl_->threads);
  ParsedLatents p = impl_->parse(data, size);
  std::vector<int32_t> out = to_int32_vector(p.z_hat);
  for (const std::vector<int32_t>& step : p.y_symbols_by_step)
    out.insert(out.end(), step.begin(), step.end());
  return out;
}

}  // namespace nic
