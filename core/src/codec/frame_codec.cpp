#include "codec/frame_codec.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <future>
#include <thread>

#include "codec/rate_parameters.h"
#include "common/error.h"
#include "entropy/symbol_coder.h"
#include "model/device.h"
#include "model/weights.h"

namespace nic {

namespace {

// Latent y channels are split into this many groups per coding step, each its own substream, so
// that parsing runs in parallel. Substream 0 carries z.
constexpr int kChannelGroups = 2;
constexpr int kCodingSteps = 2;
constexpr int kSubstreams = 1 + kCodingSteps * kChannelGroups;
// Symbols beyond these magnitudes never come from a real image: the encoder saturates, the
// decoder reports corruption.
constexpr int32_t kMaxLatentSymbol = 1 << 20;
constexpr int32_t kMaxHyperSymbol = 1 << 15;
constexpr int kLatentDownscale = 16;
constexpr int kHyperDownscale = 64;

int64_t padded(int64_t v) {
  return (v + ModelConfig::kPadMultiple - 1) / ModelConfig::kPadMultiple * ModelConfig::kPadMultiple;
}

struct LatentShape {
  int64_t channels, height, width;
  int64_t plane() const { return height * width; }
  int64_t size() const { return channels * plane(); }
};

// Visits the flat indices (c * h * w + row * w + col) of the latents of one y substream, in
// coding order. Step 0 holds the first half of the channels on the even checkerboard and the
// second half on the odd one; step 1 the complement (see step1_mask).
template <class Visit>
void for_each_latent(const LatentShape& s, int y_substream, Visit visit) {
  const int step = y_substream / kChannelGroups, group = y_substream % kChannelGroups;
  const int64_t c_begin = s.channels * group / kChannelGroups;
  const int64_t c_end = s.channels * (group + 1) / kChannelGroups;
  for (int64_t c = c_begin; c < c_end; ++c) {
    const bool first_half = c < s.channels / 2;
    for (int64_t row = 0; row < s.height; ++row) {
      // In step 0 a first-half channel takes the columns where row + col is even.
      const int64_t first_col = ((row & 1) == 0) == (first_half == (step == 0)) ? 0 : 1;
      const int64_t base = c * s.plane() + row * s.width;
      for (int64_t col = first_col; col < s.width; col += 2) visit(base + col);
    }
  }
}

template <class Task>
void run_parallel(int count, int threads, Task task) {
  if (threads <= 1 || count <= 1) {
    for (int i = 0; i < count; ++i) task(i);
    return;
  }
  std::vector<std::future<void>> jobs;
  for (int i = 0; i < count; ++i) jobs.push_back(std::async(std::launch::async, task, i));
  for (auto& j : jobs) j.get();  // rethrows the first failure
}

std::vector<int32_t> to_int32_vector(const torch::Tensor& t) {
  torch::Tensor c = t.to(torch::kCPU, torch::kInt32).contiguous();
  return std::vector<int32_t>(c.data_ptr<int32_t>(), c.data_ptr<int32_t>() + c.numel());
}

}  // namespace

class FrameAnalysis {
 public:
  uint32_t width = 0, height = 0;
  LatentShape y_shape{}, z_shape{};
  torch::Tensor y;            // [1, N, h, w] float
  torch::Tensor z_hat;        // [1, Cz, h/4, w/4] float, integer-valued
  torch::Tensor features;     // hyper features for the means
  torch::Tensor mu1;          // step-1 means
  torch::Tensor scale_index;  // int64 [1, N, h, w], scale index of y (before the step)
};

// The symbols of y at one qp, ready for entropy coding.
struct QuantizedLatents {
  std::vector<int32_t> y_symbols;  // flat [N, h, w]
  std::vector<int32_t> y_tables;   // scale index per latent
  std::vector<int32_t> z_symbols;  // flat [Cz, h, w]
};

struct ParsedLatents {
  FrameHeader header;
  LatentShape y_shape{}, z_shape{};
  torch::Tensor z_hat;
  torch::Tensor step;
  std::vector<int32_t> y_symbols;
};

struct FrameCodec::Impl {
  torch::Device device{torch::kCPU};
  CodecWeights weights;
  RateParameters rate;
  int threads = 1;
  double perturbation = 0.0;

  torch::Tensor perturb(const torch::Tensor& t) const {
    if (perturbation == 0.0) return t;
    return t + (torch::rand_like(t) - 0.5) * (2.0 * perturbation);
  }

  torch::Tensor mask_step1(const LatentShape& s) const {
    return step1_mask(s.channels, s.height, s.width, torch::TensorOptions().device(device));
  }

  // Per-channel steps (float, [1, N, 1, 1]) and scale indices of the symbols at qp_fixed.
  std::pair<torch::Tensor, std::vector<int32_t>> quantizer(const torch::Tensor& scale_index,
                                                           uint16_t qp_fixed) const {
    const std::vector<int32_t> units = rate.step_units(qp_fixed);
    const std::vector<float> steps = RateParameters::steps_from_units(units);
    torch::Tensor step = torch::tensor(steps).view({1, -1, 1, 1}).to(device);
    // Index of sigma_y / step on the 1/8-octave ladder: (32 * i - units + 16) / 32, floored.
    torch::Tensor u = torch::tensor(units, torch::kInt64).view({1, -1, 1, 1}).to(device);
    constexpr int64_t per_index = RateParameters::kUnitsPerOctave / kScaleIndexStepsPerOctave;
    torch::Tensor k = torch::div(scale_index * per_index - u + per_index / 2, per_index, "floor")
                          .clamp(0, kScaleLevels - 1);
    return {step, to_int32_vector(k)};
  }

  QuantizedLatents quantize(const FrameAnalysis& a, uint16_t qp_fixed);
  ParsedLatents parse(const uint8_t* data, size_t size);

  torch::Tensor image_to_tensor(const uint8_t* rgb, uint32_t width, uint32_t height,
                                size_t stride) const {
    torch::Tensor hwc = torch::empty({int64_t(height), int64_t(width), 3}, torch::kUInt8);
    for (uint32_t r = 0; r < height; ++r)
      std::memcpy(hwc.data_ptr<uint8_t>() + size_t(r) * width * 3, rgb + r * stride, size_t(width) * 3);
    torch::Tensor x = hwc.permute({2, 0, 1}).unsqueeze(0).to(device).to(torch::kFloat32) / 255.0;
    const int64_t pad_h = padded(height) - height, pad_w = padded(width) - width;
    if (pad_h || pad_w) {
      namespace F = torch::nn::functional;
      x = F::pad(x, F::PadFuncOptions({0, pad_w, 0, pad_h}).mode(torch::kReplicate));
    }
    return x;
  }
};

FrameCodec::FrameCodec(const FrameCodecOptions& options) : impl_(std::make_unique<Impl>()) {
  require(options.threads >= 0 && options.threads <= 256, NIC_ERROR_INVALID_ARGUMENT,
          "threads must be between 0 and 256");
  impl_->device = parse_device(options.device);
  // LibTorch starts with one thread here; 0 means "use every core".
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  at::set_num_threads(options.threads > 0 ? options.threads : int(cores));
  impl_->threads = std::max(1, at::get_num_threads());
  impl_->weights = load_weights(options.model_path, impl_->device);
  impl_->rate = RateParameters(impl_->weights.q_basic_units, impl_->weights.anchor_units);
}

FrameCodec::~FrameCodec() = default;

uint64_t FrameCodec::model_fingerprint() const { return impl_->weights.fingerprint; }

void FrameCodec::set_float_perturbation(double amplitude) { impl_->perturbation = amplitude; }

std::shared_ptr<const FrameAnalysis> FrameCodec::analyze(const uint8_t* rgb, uint32_t width,
                                                         uint32_t height, size_t stride) {
  require(rgb != nullptr, NIC_ERROR_INVALID_ARGUMENT, "encode: no pixels");
  require(width >= 1 && height >= 1 && width <= NIC_MAX_DIMENSION && height <= NIC_MAX_DIMENSION,
          NIC_ERROR_INVALID_ARGUMENT,
          "encode: size " + std::to_string(width) + "x" + std::to_string(height) +
              " is outside 1x1 .. 16384x16384");
  require(stride >= size_t(width) * 3, NIC_ERROR_INVALID_ARGUMENT,
          "encode: stride is smaller than width * 3");
  c10::InferenceMode guard;
  ImageCodecModel& m = impl_->weights.model;
  auto a = std::make_shared<FrameAnalysis>();
  a->width = width;
  a->height = height;
  torch::Tensor x = impl_->image_to_tensor(rgb, width, height, stride);
  a->y = m->g_a(x);
  torch::Tensor z = m->h_a(a->y);
  a->z_hat = torch::round(z).clamp(-kMaxHyperSymbol, kMaxHyperSymbol);
  a->y_shape = {a->y.size(1), a->y.size(2), a->y.size(3)};
  a->z_shape = {z.size(1), z.size(2), z.size(3)};
  a->scale_index = impl_->weights.scale_net.forward(a->z_hat);
  a->features = impl_->perturb(m->h_s(a->z_hat));
  a->mu1 = impl_->perturb(m->means->step1(a->features));
  return a;
}


QuantizedLatents FrameCodec::Impl::quantize(const FrameAnalysis& a, uint16_t qp_fixed) {
  Impl& impl = *this;
  c10::InferenceMode guard;
  auto [step, tables] = impl.quantizer(a.scale_index, qp_fixed);
  torch::Tensor mask1 = impl.mask_step1(a.y_shape);
  torch::Tensor s1 =
      torch::round((a.y - a.mu1) / step).clamp(-kMaxLatentSymbol, kMaxLatentSymbol) * mask1;
  torch::Tensor y_hat1 = (s1 * step + a.mu1) * mask1;
  torch::Tensor mu2 = impl.perturb(impl.weights.model->means->step2(a.features, y_hat1));
  torch::Tensor s2 =
      torch::round((a.y - mu2) / step).clamp(-kMaxLatentSymbol, kMaxLatentSymbol) * (1.0 - mask1);
  return {to_int32_vector(s1 + s2), std::move(tables), to_int32_vector(a.z_hat)};
}

std::vector<uint8_t> FrameCodec::encode(const FrameAnalysis& a, float qp) {
  const uint16_t qp_fixed = FrameHeader::qp_to_fixed(qp);
  QuantizedLatents q = impl_->quantize(a, qp_fixed);
  const CodecWeights& w = impl_->weights;
  std::vector<std::vector<uint8_t>> substreams(kSubstreams);
  run_parallel(kSubstreams, impl_->threads, [&](int index) {
    SymbolEncoder enc;
    if (index == 0) {
      for (int64_t i = 0; i < a.z_shape.size(); ++i)
        enc.encode(q.z_symbols[i], w.z_tables[i / a.z_shape.plane()]);
    } else {
      for_each_latent(a.y_shape, index - 1,
                      [&](int64_t i) { enc.encode(q.y_symbols[i], w.y_tables[q.y_tables[i]]); });
    }
    substreams[index] = enc.finish();
  });
  FrameHeader header;
  header.width = a.width;
  header.height = a.height;
  header.model_fingerprint = w.fingerprint;
  header.qp_fixed = qp_fixed;
  return write_frame(header, substreams);
}

double FrameCodec::estimate_bits(const FrameAnalysis& a, float qp) {
  QuantizedLatents q = impl_->quantize(a, FrameHeader::qp_to_fixed(qp));
  const CodecWeights& w = impl_->weights;
  double bits = 0;
  for (int64_t i = 0; i < a.z_shape.size(); ++i)
    bits += SymbolEncoder::cost_bits(q.z_symbols[i], w.z_tables[i / a.z_shape.plane()]);
  for (int s = 0; s < kSubstreams - 1; ++s) {
    for_each_latent(a.y_shape, s, [&](int64_t i) {
      bits += SymbolEncoder::cost_bits(q.y_symbols[i], w.y_tables[q.y_tables[i]]);
    });
  }
  return bits;
}

FrameCodec::SizedFrame FrameCodec::encode_to_size(const FrameAnalysis& a, double target_bytes,
                                                  double max_bytes, float min_qp, float max_qp) {
  uint16_t lo = FrameHeader::qp_to_fixed(min_qp), hi = FrameHeader::qp_to_fixed(max_qp);
  // Bytes beyond the symbols' bits: header, CRC and about 8 bytes of rANS flush per substream.
  const double overhead = double(FrameHeader{}.header_size()) + 4.0 * kSubstreams + 4.0 + 8.0 * kSubstreams;
  auto estimate = [&](uint16_t qp_fixed) {
    return estimate_bits(a, qp_fixed / 256.0f) / 8.0 + overhead;
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
  std::vector<uint8_t> frame = encode(a, qp / 256.0f);
  // The estimate is exact up to the rANS flush; if the real frame still overflows, step up.
  const uint16_t top = FrameHeader::qp_to_fixed(max_qp);
  while (double(frame.size()) > max_bytes && qp < top) {
    qp = uint16_t(std::min<int>(top, qp + 16));
    frame = encode(a, qp / 256.0f);
  }
  return {std::move(frame), qp / 256.0f};
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
  const CodecWeights& w = impl.weights;
  if (h.model_fingerprint != w.fingerprint) {
    char msg[160];
    std::snprintf(msg, sizeof msg,
                  "frame was encoded with model %016llx, but model %016llx is loaded",
                  (unsigned long long)h.model_fingerprint, (unsigned long long)w.fingerprint);
    throw Error(NIC_ERROR_MODEL_MISMATCH, msg);
  }
  require(frame.substreams.size() == size_t(kSubstreams), NIC_ERROR_CORRUPT,
          "frame has " + std::to_string(frame.substreams.size()) + " substreams, expected " +
              std::to_string(kSubstreams));
  ParsedLatents p;
  p.header = h;
  const int64_t ph = padded(h.height), pw = padded(h.width);
  p.y_shape = {w.config.latent_channels, ph / kLatentDownscale, pw / kLatentDownscale};
  p.z_shape = {w.config.hyper_channels, ph / kHyperDownscale, pw / kHyperDownscale};

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
  p.z_hat = torch::tensor(z, torch::kInt32)
                .view({1, p.z_shape.channels, p.z_shape.height, p.z_shape.width})
                .to(impl.device, torch::kFloat32);
  std::vector<int32_t> tables;
  {
    c10::InferenceMode guard;
    std::tie(p.step, tables) = impl.quantizer(w.scale_net.forward(p.z_hat), h.qp_fixed);
  }
  p.y_symbols.assign(p.y_shape.size(), 0);
  run_parallel(kSubstreams - 1, impl.threads, [&](int s) {
    SymbolDecoder dec(frame.substreams[s + 1].first, frame.substreams[s + 1].second);
    bool in_range = true;
    for_each_latent(p.y_shape, s, [&](int64_t i) {
      const int32_t v = dec.decode(w.y_tables[tables[i]]);
      in_range &= std::abs(int64_t(v)) <= kMaxLatentSymbol;
      p.y_symbols[i] = v;
    });
    require(in_range, NIC_ERROR_CORRUPT, "latent symbol out of range");
    dec.check_finished();
  });
  return p;
}

FrameHeader FrameCodec::decode(const uint8_t* data, size_t size, uint8_t* rgb, size_t stride,
                               size_t capacity) {
  ParsedLatents p = impl_->parse(data, size);
  const FrameHeader& h = p.header;
  require(rgb != nullptr && stride >= size_t(h.width) * 3 &&
              capacity >= (size_t(h.height) - 1) * stride + size_t(h.width) * 3,
          NIC_ERROR_INVALID_ARGUMENT,
          "decode: output buffer too small for " + std::to_string(h.width) + "x" +
              std::to_string(h.height));
  c10::InferenceMode guard;
  ImageCodecModel& m = impl_->weights.model;
  const LatentShape& s = p.y_shape;
  torch::Tensor symbols = torch::tensor(p.y_symbols, torch::kInt32)
                              .view({1, s.channels, s.height, s.width})
                              .to(impl_->device, torch::kFloat32);
  torch::Tensor mask1 = impl_->mask_step1(s);
  torch::Tensor features = impl_->perturb(m->h_s(p.z_hat));
  torch::Tensor mu1 = impl_->perturb(m->means->step1(features));
  torch::Tensor y_hat1 = (symbols * p.step + mu1) * mask1;
  torch::Tensor mu2 = impl_->perturb(m->means->step2(features, y_hat1));
  torch::Tensor y_hat = y_hat1 + (symbols * p.step + mu2) * (1.0 - mask1);
  torch::Tensor x = impl_->perturb(m->g_s(y_hat));
  x = x.slice(2, 0, h.height).slice(3, 0, h.width);
  torch::Tensor pixels = (torch::nan_to_num(x, 0.0).clamp(0.0, 1.0) * 255.0)
                             .round()
                             .to(torch::kUInt8)
                             .squeeze(0)
                             .permute({1, 2, 0})
                             .contiguous()
                             .to(torch::kCPU);
  for (uint32_t r = 0; r < h.height; ++r)
    std::memcpy(rgb + r * stride, pixels.data_ptr<uint8_t>() + size_t(r) * h.width * 3,
                size_t(h.width) * 3);
  return h;
}

std::vector<int32_t> FrameCodec::parse_symbols(const uint8_t* data, size_t size) {
  ParsedLatents p = impl_->parse(data, size);
  std::vector<int32_t> out = to_int32_vector(p.z_hat);
  for (int s = 0; s < kSubstreams - 1; ++s)
    for_each_latent(p.y_shape, s, [&](int64_t i) { out.push_back(p.y_symbols[i]); });
  return out;
}

}  // namespace nic
