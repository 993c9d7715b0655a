// The quantization step as a function of qp, in integer arithmetic (docs/design.md).
//
// Steps are kept as integer exponents in 1/256 octave: step_c(qp) = 2^(units_c(qp) / 256) with
// units_c(qp) = q_basic_units[c] + the anchor exponent interpolated linearly (i.e. the step
// log-linearly) between the trained anchors, which sit evenly on qp = 0 .. 63. Being integers,
// the scale indices derived from them are identical on every machine.
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"

namespace nic {

class RateParameters {
 public:
  RateParameters() = default;
  // Throws Error(NIC_ERROR_MODEL) if the values are out of a sane range.
  RateParameters(std::vector<int32_t> q_basic_units, std::vector<int32_t> anchor_units);

  // Where qp_fixed falls on the anchors, which sit evenly on qp 0 .. 63: between anchor `segment`
  // and the next, offset / kMaxQpFixed of the way (exact, in integers).
  struct AnchorPosition {
    int64_t segment;
    int64_t offset;
  };
  static AnchorPosition anchor_position(uint16_t qp_fixed, size_t anchor_count);

  // Per-channel step exponents at qp_fixed (qp * 256, 0 .. 63 * 256).
  std::vector<int32_t> step_units(uint16_t qp_fixed) const;
  // The corresponding steps as floats (only used to scale values, never to select tables).
  static std::vector<float> steps_from_units(const std::vector<int32_t>& units);

 private:
  std::vector<int32_t> q_basic_units_;
  std::vector<int32_t> anchor_units_;
};

}  // namespace nic
