#include "codec/rate_controller.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace nic {

namespace {
// CBR repays (or spends) the buffer's content over this many frames.
constexpr double kCbrRepayFrames = 8.0;
// ABR lets a frame take at most this many per-frame budgets.
constexpr double kAbrMaxFrameBudgets = 8.0;

void validate(const NicRateControlConfig& c) {
  require(c.mode == NIC_RATE_CONSTANT_QP || c.mode == NIC_RATE_CBR || c.mode == NIC_RATE_ABR,
          NIC_ERROR_INVALID_ARGUMENT, "rate control: unknown mode");
  require(c.min_qp >= NIC_QP_MIN && c.max_qp <= NIC_QP_MAX && c.min_qp <= c.max_qp,
          NIC_ERROR_INVALID_ARGUMENT, "rate control: need 0 <= min_qp <= max_qp <= 63");
  if (c.mode == NIC_RATE_CONSTANT_QP) {
    require(c.qp >= NIC_QP_MIN && c.qp <= NIC_QP_MAX, NIC_ERROR_INVALID_ARGUMENT,
            "rate control: qp must be in 0..63");
    return;
  }
  require(std::isfinite(c.bitrate) && c.bitrate > 0 && c.bitrate < 1e12, NIC_ERROR_INVALID_ARGUMENT,
          "rate control: bitrate must be positive (bits per second)");
  require(std::isfinite(c.framerate) && c.framerate > 0 && c.framerate <= 1000,
          NIC_ERROR_INVALID_ARGUMENT, "rate control: framerate must be in (0, 1000]");
  require(std::isfinite(c.buffer_seconds) && c.buffer_seconds >= 0 && c.buffer_seconds <= 60,
          NIC_ERROR_INVALID_ARGUMENT, "rate control: buffer_seconds must be in [0, 60]");
  require(c.window_frames >= 1 && c.window_frames <= 100000, NIC_ERROR_INVALID_ARGUMENT,
          "rate control: window_frames must be >= 1");
  require(std::isfinite(c.max_bitrate) && c.max_bitrate >= 0 && c.max_bitrate < 1e12,
          NIC_ERROR_INVALID_ARGUMENT, "rate control: max_bitrate must be >= 0 (0 = no peak rate)");
  require(c.max_bitrate == 0 || c.mode != NIC_RATE_ABR || c.max_bitrate >= c.bitrate,
          NIC_ERROR_INVALID_ARGUMENT, "rate control: max_bitrate must not be below bitrate");
}

}  // namespace

RateController::RateController(const NicRateControlConfig& config) : config_(config) {
  validate(config_);
}

void RateController::reconfigure(const NicRateControlConfig& config) {
  validate(config);
  config_ = config;
}

double RateController::per_frame_bytes() const { return config_.bitrate / config_.framerate / 8.0; }

RateController::FrameBudget RateController::next_budget() const {
  const double per_frame = per_frame_bytes();
  if (config_.mode == NIC_RATE_CBR) {
    const double buffer = per_frame * config_.framerate * config_.buffer_seconds;
    // Saved credit never lets a frame exceed its budget plus one buffer.
    const double max_bytes = per_frame + std::clamp(buffer - debt_bytes_, 0.0, buffer);
    const double target =
        std::clamp(per_frame - debt_bytes_ / kCbrRepayFrames, 0.25 * per_frame, max_bytes);
    return {target, max_bytes};
  }
  const double target = std::max(0.25 * per_frame, per_frame - debt_bytes_ / config_.window_frames);
  double max_bytes = std::max(target, kAbrMaxFrameBudgets * per_frame);
  if (has_peak_rate()) {
    // What the peak-rate bucket can take this frame: one frame's drain plus its free space.
    max_bytes = std::min(
        max_bytes, peak_drain_bytes() + std::max(0.0, peak_bucket_bytes() - peak_fill_bytes_));
  }
  return {std::min(target, max_bytes), max_bytes};
}

void RateController::frame_coded(size_t bytes) {
  if (config_.mode == NIC_RATE_CONSTANT_QP) return;
  if (has_peak_rate())
    peak_fill_bytes_ = std::max(0.0, peak_fill_bytes_ + double(bytes) - peak_drain_bytes());
  debt_bytes_ += double(bytes) - per_frame_bytes();
  if (config_.mode == NIC_RATE_CBR) {
    // A leaky bucket holds no more credit than its size.
    const double buffer = per_frame_bytes() * config_.framerate * config_.buffer_seconds;
    debt_bytes_ = std::max(debt_bytes_, -buffer);
  }
}

}  // namespace nic
