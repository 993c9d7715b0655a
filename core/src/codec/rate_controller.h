// Stream rate control (docs/design.md): decides each frame's byte budget from the bitrate, the
// frame rate and a buffer model; the codec then finds the qp that fits the budget with the
// entropy model's exact bit estimate. Torch-free bookkeeping only.
#pragma once

#include <cstddef>
#include <cstdint>

#include "nic/nic.h"

namespace nic {

class RateController {
 public:
  explicit RateController(const NicRateControlConfig& config);  // throws Error on bad config
  void reconfigure(const NicRateControlConfig& config);         // keeps the buffer state

  const NicRateControlConfig& config() const { return config_; }
  bool constant_qp() const { return config_.mode == NIC_RATE_CONSTANT_QP; }

  struct FrameBudget {
    double target_bytes;  // aim for this size
    double max_bytes;     // never exceed this (budget plus what the buffer can absorb)
  };
  FrameBudget next_budget() const;
  void frame_coded(size_t bytes);  // updates the buffer after a frame

  double per_frame_bytes() const;
  double buffer_level() const { return debt_bytes_; }  // bytes above the budget so far

 private:
  bool has_peak_rate() const { return config_.mode == NIC_RATE_ABR && config_.max_bitrate > 0; }
  double peak_drain_bytes() const { return config_.max_bitrate / config_.framerate / 8.0; }
  double peak_bucket_bytes() const { return config_.max_bitrate * config_.buffer_seconds / 8.0; }

  NicRateControlConfig config_;
  double debt_bytes_ = 0;       // sum of (size - per-frame budget), clamped to the buffer
  double peak_fill_bytes_ = 0;  // ABR with a peak rate: content of the leaky bucket
};

}  // namespace nic
