// How much arithmetic a model does per pixel: multiply-accumulates of every convolution, counted
// from the model's own modules, so the count follows whatever size the config builds. Used to
// compare models of a family (kMAC/px in `nic models` and the model card) and as the compute axis
// of the scaling-law study (bench/scaling.py: training FLOPs = 3 x 2 x MACs per trained pixel).
#pragma once

#include <cstdint>

namespace nic {

struct ImageCodecModelImpl;

struct ModelComplexity {
  double analysis = 0;   // g_a: encoder only
  double synthesis = 0;  // g_s: decoder only
  double entropy = 0;    // hyperprior, means and scale networks: both sides
  double encoder() const { return analysis + entropy; }
  double decoder() const { return synthesis + entropy; }
  double total() const { return analysis + synthesis + entropy; }
};

// Multiply-accumulates per pixel of the coded image (interior; padding ignored).
ModelComplexity macs_per_pixel(ImageCodecModelImpl& model);

// The model's parameters (every registered tensor the optimizer would train).
int64_t count_parameters(const ImageCodecModelImpl& model);

}  // namespace nic
