#include "codec/stream_encoder.h"

#include <cmath>
#include <cstring>
#include <utility>

#include "common/error.h"
#include "model/device.h"

namespace nic {

FrameCodec::SizedFrame encode_controlled(FrameCodec& codec, RateController& controller,
                                         const FrameAnalysis& analysis) {
  const NicRateControlConfig& c = controller.config();
  FrameCodec::SizedFrame frame;
  if (controller.constant_qp()) {
    frame = {codec.encode(analysis, c.qp), c.qp};
  } else {
    const RateController::FrameBudget budget = controller.next_budget();
    frame =
        codec.encode_to_size(analysis, budget.target_bytes, budget.max_bytes, c.min_qp, c.max_qp);
  }
  controller.frame_coded(frame.bytes.size());
  return frame;
}

StreamEncoder::StreamEncoder(FrameCodec& codec, RateController* controller, int delay)
    : codec_(codec),
      controller_(controller),
      delay_(delay == kAutoDelay ? (codec.on_gpu() ? 1 : 0) : delay) {
  require(delay_ == 0 || delay_ == 1, NIC_ERROR_INVALID_ARGUMENT,
          "stream encoder delay must be 0, 1 or auto, not " + std::to_string(delay));
  if (delay_ == 1) worker_ = std::thread([this] { worker_loop(); });
}

StreamEncoder::~StreamEncoder() {
  if (!worker_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

std::optional<CodedStreamFrame> StreamEncoder::encode(const StreamFrame* frame) {
  if (frame) {
    codec_.check_frame(frame->rgb, frame->width, frame->height, frame->stride);
    require(!std::isnan(frame->qp), NIC_ERROR_INVALID_ARGUMENT, "encode: qp is not a number");
    if (frame->qp >= 0)
      FrameHeader::qp_to_fixed(frame->qp);  // throws for a qp above the range
    else
      require(controller_ != nullptr, NIC_ERROR_INVALID_ARGUMENT,
              "encode: a frame without a qp needs a rate controller");
  }
  if (delay_ == 0) {
    if (!frame) return std::nullopt;
    const auto analysis = codec_.analyze(frame->rgb, frame->width, frame->height, frame->stride);
    return code(*analysis, {frame->qp, frame->user_data});
  }
  // Delay 1: collect the frame on the worker, start the new one there, then code the collected
  // one here while the worker analyses.
  std::shared_ptr<const FrameAnalysis> ready;
  Pending ready_frame{};
  std::exception_ptr ready_failure;
  if (in_flight_) {
    in_flight_ = false;
    ready_frame = in_flight_frame_;
    try {
      ready = finish_analysis();
    } catch (...) {
      ready_failure = std::current_exception();
    }
  }
  if (frame) {
    start_analysis(*frame);
    in_flight_ = true;
    in_flight_frame_ = {frame->qp, frame->user_data};
  }
  if (ready_failure) std::rethrow_exception(ready_failure);
  if (!ready) return std::nullopt;
  return code(*ready, ready_frame);
}

CodedStreamFrame StreamEncoder::code(const FrameAnalysis& analysis, const Pending& pending) {
  CodedStreamFrame out;
  out.user_data = pending.user_data;
  if (pending.qp >= 0) {
    out.bytes = codec_.encode(analysis, pending.qp);
    out.qp = FrameHeader::qp_from_fixed(FrameHeader::qp_to_fixed(pending.qp));
    if (controller_) controller_->frame_coded(out.bytes.size());  // keeps the rate right
  } else {
    FrameCodec::SizedFrame sized = encode_controlled(codec_, *controller_, analysis);
    out.bytes = std::move(sized.bytes);
    out.qp = sized.qp;
  }
  return out;
}

void StreamEncoder::start_analysis(const StreamFrame& frame) {
  // The worker is idle (its last result was collected), so its pixel buffer is free. The copy is
  // tight: rows width * 3 bytes apart.
  const size_t row = size_t(frame.width) * 3;
  pixels_.resize(row * frame.height);
  for (uint32_t y = 0; y < frame.height; ++y)
    std::memcpy(pixels_.data() + row * y, frame.rgb + frame.stride * y, row);
  width_ = frame.width;
  height_ = frame.height;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ready_ = true;
    job_done_ = false;
  }
  wake_.notify_all();
}

std::shared_ptr<const FrameAnalysis> StreamEncoder::finish_analysis() {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait(lock, [this] { return job_done_; });
  job_done_ = false;
  if (failure_) std::rethrow_exception(std::exchange(failure_, nullptr));
  return std::move(result_);
}

void StreamEncoder::worker_loop() {
  // Without a stream of its own (it could not be had) the worker still codes correctly, on the
  // device's default stream, only without the overlap.
  std::unique_ptr<OwnDeviceStream> stream;
  try {
    stream = codec_.own_device_stream();
  } catch (...) {
  }
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return job_ready_ || stopping_; });
    if (stopping_) return;
    job_ready_ = false;
    lock.unlock();
    std::shared_ptr<const FrameAnalysis> result;
    std::exception_ptr failure;
    try {
      result = codec_.analyze(pixels_.data(), width_, height_, size_t(width_) * 3);
      if (stream) stream->synchronize();  // the coding thread reads the tensors next
    } catch (...) {
      failure = std::current_exception();
    }
    lock.lock();
    result_ = std::move(result);
    failure_ = failure;
    job_done_ = true;
    wake_.notify_all();
  }
}

}  // namespace nic
