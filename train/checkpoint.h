// A run's checkpoint (RUN/checkpoint.pt): the weights, their moving average, the Adam state and
// the step, so that training continues across sessions exactly where it stopped.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "model/image_codec_model.h"

namespace nic {

struct TrainingState {
  ImageCodecModel& model;
  ImageCodecModel& ema;  // null when the run keeps no moving average
  torch::optim::Adam& optimizer;
  int64_t step = 0;
  int64_t optimizer_start = 0;  // the step at which the Adam state was created
};

// Written to a temporary file first and renamed, so a crash never leaves half a checkpoint.
void save_checkpoint(const std::string& path, const TrainingState& state);
// Fills state from path (its step and optimizer_start too).
void load_checkpoint(const std::string& path, TrainingState& state, torch::Device device);

}  // namespace nic
