// Codes the frames of a stream in order, in two stages that may overlap (docs/design.md,
// "Pipelined encoding"):
//   1. analysis: the analysis transform and the hyperprior, most of a frame's network work;
//   2. coding: the qp (given, or chosen under the rate controller), quantization with the entropy
//      model's means and scales, and the rANS substreams.
// With a delay of one frame, frame N+1 is analysed on the encoder's worker thread (on a GPU, on a
// CUDA stream of its own) while frame N is coded on the caller's thread, so that the stream's
// throughput is set by the slower stage rather than by their sum. The frames are byte for byte
// those of FrameCodec::encode, whatever the delay.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "codec/frame_codec.h"
#include "codec/rate_controller.h"

namespace nic {

// One frame under the controller: its budget, the qp search, the buffer update.
FrameCodec::SizedFrame encode_controlled(FrameCodec& codec, RateController& controller,
                                         const FrameAnalysis& analysis);

struct StreamFrame {
  const uint8_t* rgb = nullptr;  // 8-bit interleaved RGB, rows stride bytes apart
  uint32_t width = 0, height = 0;
  size_t stride = 0;
  float qp = -1;  // >= 0: coded at this qp (a controller counts the frame); < 0: the controller's
  int64_t user_data = 0;  // handed back with the coded frame
};

struct CodedStreamFrame {
  std::vector<uint8_t> bytes;
  float qp = 0;  // the qp the frame was coded at
  int64_t user_data = 0;
};

class StreamEncoder {
 public:
  // The delay the encoder picks by itself: one frame where the networks run on a GPU, none on
  // the CPU, where both stages share the same cores and the pipeline was slower (docs/design.md).
  static constexpr int kAutoDelay = -1;

  // codec and controller (may be null: every frame then needs its own qp) must outlive the
  // encoder; while it lives, only it may use codec. delay: 0, 1 or kAutoDelay.
  StreamEncoder(FrameCodec& codec, RateController* controller, int delay);
  ~StreamEncoder();  // waits for the worker; frames still in the pipeline are dropped
  StreamEncoder(const StreamEncoder&) = delete;
  StreamEncoder& operator=(const StreamEncoder&) = delete;

  int delay() const { return delay_; }

  // Takes the next frame (its pixels are copied before the call returns; null: none, drain the
  // pipeline) and returns the oldest frame not yet returned, coded, or nothing while the pipeline
  // fills and once it is empty. A bad frame throws before anything changes. A failure of an
  // earlier frame's analysis or coding throws from the call that would have returned it; that
  // frame is lost, the new one is taken.
  std::optional<CodedStreamFrame> encode(const StreamFrame* frame);

 private:
  struct Pending {
    float qp;
    int64_t user_data;
  };
  CodedStreamFrame code(const FrameAnalysis& analysis, const Pending& pending);
  void start_analysis(const StreamFrame& frame);           // on the worker
  std::shared_ptr<const FrameAnalysis> finish_analysis();  // waits; rethrows its failure
  void worker_loop();

  FrameCodec& codec_;
  RateController* controller_;
  int delay_;

  // The frame on the worker (delay 1): its pixels, copied tightly, and what it is coded with.
  bool in_flight_ = false;
  Pending in_flight_frame_{};
  std::vector<uint8_t> pixels_;
  uint32_t width_ = 0, height_ = 0;

  // Worker hand-over, under mutex_.
  std::mutex mutex_;
  std::condition_variable wake_;
  bool job_ready_ = false, job_done_ = false, stopping_ = false;
  std::shared_ptr<const FrameAnalysis> result_;
  std::exception_ptr failure_;
  std::thread worker_;
};

}  // namespace nic
