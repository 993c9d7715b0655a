// Mask decay (EVC): deriving a smaller, faster model (the student) from a trained one (the
// teacher) by training a mask over every channel the two differ in, driving the masks of the
// channels the student will not have to zero, and then cutting those channels out.
//
// A channel space is a set of channels that must be kept or removed together: a stage's residual
// stream (every layer that adds into it), the hidden channels of a residual stage, of a
// DepthConv and of a ConvFFN. Its mask multiplies the outputs of the convolutions that produce the
// space (their weights and biases, so that the masked teacher computes exactly what the
// mask-folded student computes once the zeroed channels are gone); the convolutions that read the
// space lose the matching input channels when it is cut. The spaces come from walking the
// transforms' modules, and the student's sizes from walking a model built with the student's
// config the same way, so the two always correspond.
//
// Two ways of driving the masks to the student's widths (--mask-decay-method):
//  - "decay" (ours): within every space, the channels ranked lowest (|mask| times the norm of the
//    weights that produce the channel) are clamped under an envelope that falls linearly from 1
//    to 0 over the decay steps; the rest of the masks train freely. The rate-distortion loss
//    moves work onto the surviving channels while the doomed ones fade, and at the end the cut
//    is exact.
//  - "l1": the classic baseline, an L1 penalty on every mask (strength * mean |mask| added to the
//    loss); the cut keeps the highest-ranked channels and whatever the others still carried is
//    lost.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "model/config.h"
#include "model/image_codec_model.h"

namespace nic {

struct MaskDecayOptions {
  std::array<int, 3> student_widths{};  // all zero: no mask decay
  std::string method = "decay";         // "decay" or "l1"
  int64_t decay_steps = 4000;           // "decay": steps over which the envelope falls to 0
  double l1_strength = 0.02;            // "l1": weight of mean |mask| in the loss
  bool enabled() const { return student_widths[0] > 0; }
};

class ChannelMasksImpl : public torch::nn::Module {
 public:
  // Registers one mask per channel space of teacher's transforms that the student's config
  // (teacher's with the student's widths) makes smaller.
  ChannelMasksImpl(ImageCodecModelImpl& teacher, const ModelConfig& student_config,
                   MaskDecayOptions options);

  // Points every masked convolution's weight and bias at (raw parameter x mask): call before
  // each forward pass. The raw parameters stay what the optimizer and checkpoints see.
  void apply();
  // "l1": the penalty to add to the loss (zero for "decay").
  torch::Tensor penalty() const;
  // "decay": clamps the lowest-ranked masks under the envelope of this many steps into the
  // decay (call after each optimizer step).
  void decay(int64_t steps_into_decay);

  // The student: the teacher's weights with the masks folded in and the cut channels removed.
  ImageCodecModel cut() const;
  // |mask| over the channels the cut removes (largest: 0 once the decay has finished) and over
  // those it keeps, and the number of spaces and channels masked, for the log.
  struct MaskStatistics {
    double largest_removed = 0, mean_removed = 0, mean_kept = 0;
  };
  MaskStatistics statistics() const;
  std::string summary() const;

 private:
  enum class PortKind {
    Producer,    // output channels, masked
    OutputOnly,  // output channels cut but not masked (feeds a masked depthwise conv)
    Depthwise,   // a depthwise conv producing the space: masked, cut along dim 0
    Consumer,    // input channels cut
  };
  struct Port {
    torch::nn::Conv2dImpl* conv;
    std::string name;  // parameter prefix in the model, e.g. "g_a.body.0.conv2"
    PortKind kind;
    int group;  // output channels per space channel (a sub-pixel conv's factor^2), else 1
    // The registered weight and bias: what the optimizer trains. apply() points the conv's
    // own members at (raw x mask).
    torch::Tensor raw_weight, raw_bias;
  };
  struct Space {
    std::vector<Port> ports;
    int64_t size = 0, target = 0;
    torch::Tensor mask;  // [size], registered parameter
  };

  // Channels kept by the cut, ascending (the target highest-ranked).
  torch::Tensor kept(const Space& space) const;
  torch::Tensor ranking_scores(const Space& space) const;

  ImageCodecModelImpl& teacher_;
  ModelConfig student_config_;
  MaskDecayOptions options_;
  std::vector<Space> spaces_;
};
TORCH_MODULE(ChannelMasks);

// The teacher's config with the student's widths.
ModelConfig student_config_for(const ModelConfig& teacher, const std::array<int, 3>& widths);
// Transform widths as the options write them: "A,B,C".
std::string widths_text(const std::array<int, 3>& widths);

}  // namespace nic
