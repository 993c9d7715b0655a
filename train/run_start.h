// Starting a run from trained weights: what carries over from one model to another.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "model/image_codec_model.h"

namespace nic {

// Copies parameters and buffers by name. Between two models of the same architecture every one
// is copied; the rate anchors' steps only when both have the same number (otherwise the caller
// sets them). From a nic-evc-1 model into a nic-evc-2 one, what both have (transforms,
// hyperprior, first-step means, hyperprior scale network) is copied and the context networks
// keep their initialisation. Returns the names that were not copied.
std::vector<std::string> copy_weights(ImageCodecModel& from, ImageCodecModel& to);

// Initial log2 quantization step of each new anchor. An anchor whose lambda the old model also
// has keeps its learned step; any other sits on the straight line
// log2(step) = a + b * log2(lambda) fitted through all the old anchors (learned steps lie close
// to such a line). Adam moves a step by about lr per update, so a poor start would take
// thousands of steps to correct.
torch::Tensor anchor_steps_for(const std::vector<double>& old_lambdas,
                               const torch::Tensor& old_steps,
                               const std::vector<double>& new_lambdas);

}  // namespace nic
