#include "codec/rate_parameters.h"

#include <cmath>

#include "bitstream/frame_header.h"
#include "common/error.h"

namespace nic {

namespace {
// |exponent| bound: steps between 2^-16 and 2^16.
constexpr int32_t kMaxAbsUnits = 16 * kStepUnitsPerOctave;
}  // namespace

RateParameters::RateParameters(std::vector<int32_t> q_basic_units,
                               std::vector<int32_t> anchor_units)
    : q_basic_units_(std::move(q_basic_units)), anchor_units_(std::move(anchor_units)) {
  require(anchor_units_.size() >= 2, NIC_ERROR_MODEL, "rate parameters: need two anchors or more");
  for (int32_t u : q_basic_units_)
    require(std::abs(u) <= kMaxAbsUnits, NIC_ERROR_MODEL, "rate parameters: step out of range");
  for (int32_t u : anchor_units_)
    require(std::abs(u) <= kMaxAbsUnits, NIC_ERROR_MODEL, "rate parameters: anchor out of range");
}

RateParameters::AnchorPosition RateParameters::anchor_position(uint16_t qp_fixed,
                                                               size_t anchor_count) {
  require(qp_fixed <= kMaxQpFixed, NIC_ERROR_INVALID_ARGUMENT, "qp out of range");
  require(anchor_count >= 2, NIC_ERROR_MODEL, "rate parameters: need two anchors or more");
  // qp_fixed * (anchors - 1) / kMaxQpFixed = segment + offset / kMaxQpFixed.
  const int64_t segments = int64_t(anchor_count) - 1;
  const int64_t t = int64_t(qp_fixed) * segments;
  if (t / kMaxQpFixed == segments) return {segments - 1, kMaxQpFixed};  // qp at the last anchor
  return {t / kMaxQpFixed, t % kMaxQpFixed};
}

std::vector<int32_t> RateParameters::step_units(uint16_t qp_fixed) const {
  const auto [segment, r] = anchor_position(qp_fixed, anchor_units_.size());
  const int64_t a = anchor_units_[segment], b = anchor_units_[segment + 1];
  // Rounded to nearest, ties away from zero, in integers only.
  const int64_t num = (b - a) * r;
  const int64_t half = kMaxQpFixed / 2;
  const int64_t delta = num >= 0 ? (num + half) / kMaxQpFixed : -((-num + half) / kMaxQpFixed);
  const int32_t global = int32_t(a + delta);
  std::vector<int32_t> units(q_basic_units_.size());
  for (size_t c = 0; c < units.size(); ++c) units[c] = q_basic_units_[c] + global;
  return units;
}

std::vector<float> RateParameters::steps_from_units(const std::vector<int32_t>& units) {
  std::vector<float> steps(units.size());
  for (size_t c = 0; c < units.size(); ++c)
    steps[c] = float(std::exp2(double(units[c]) / kStepUnitsPerOctave));
  return steps;
}

}  // namespace nic
