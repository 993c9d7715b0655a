#include "model/fused_conv.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include <optional>
#include <string_view>

namespace nic {

namespace {

using Scalars = c10::List<std::optional<at::Scalar>>;
using Ints = at::IntArrayRef;
using OptionalText = std::optional<std::string_view>;

// The signatures of mkldnn::_convolution_pointwise (activation), of its binary form (a sum with
// another tensor) and of the binary form's in-place variant (a sum into the first argument).
using UnaryFn = at::Tensor(const at::Tensor&, const at::Tensor&, const std::optional<at::Tensor>&,
                           Ints, Ints, Ints, int64_t, std::string_view, Scalars, OptionalText);
using BinaryFn = at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                            const std::optional<at::Tensor>&, Ints, Ints, Ints, int64_t,
                            std::string_view, std::optional<at::Scalar>, OptionalText, Scalars,
                            OptionalText);
using SumIntoFn = at::Tensor&(at::Tensor&, const at::Tensor&, const at::Tensor&,
                              const std::optional<at::Tensor>&, Ints, Ints, Ints, int64_t,
                              std::string_view, std::optional<at::Scalar>, OptionalText, Scalars,
                              OptionalText);

// The ops are looked up, not linked: a LibTorch built without oneDNN lacks them, and then every
// call takes the plain path.
template <typename Fn>
std::optional<c10::TypedOperatorHandle<Fn>> find_op(const char* name, const char* overload) {
  auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!handle) return std::nullopt;
  return handle->typed<Fn>();
}

const std::optional<c10::TypedOperatorHandle<UnaryFn>>& unary_op() {
  static const auto op = find_op<UnaryFn>("mkldnn::_convolution_pointwise", "");
  return op;
}

const std::optional<c10::TypedOperatorHandle<BinaryFn>>& binary_op() {
  static const auto op = find_op<BinaryFn>("mkldnn::_convolution_pointwise", "binary");
  return op;
}

const std::optional<c10::TypedOperatorHandle<SumIntoFn>>& sum_into_op() {
  static const auto op = find_op<SumIntoFn>("mkldnn::_convolution_pointwise_", "binary");
  return op;
}

bool fuse(const torch::nn::Conv2d& conv, const torch::Tensor& x) {
  return !torch::GradMode::is_enabled() && x.device().is_cpu() &&
         (x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kBFloat16) &&
         conv->weight.scalar_type() == x.scalar_type() && conv->bias.defined();
}

struct ConvGeometry {
  std::vector<int64_t> padding, stride, dilation;
  int64_t groups;
};

ConvGeometry geometry(const torch::nn::Conv2d& conv) {
  const auto& o = conv->options;
  const auto& padding = std::get<torch::ExpandingArray<2>>(o.padding());
  return {std::vector<int64_t>(padding->begin(), padding->end()),
          std::vector<int64_t>(o.stride()->begin(), o.stride()->end()),
          std::vector<int64_t>(o.dilation()->begin(), o.dilation()->end()), o.groups()};
}

std::string_view attribute(Activation a) {
  switch (a) {
    case Activation::kReLU:
      return "relu";
    case Activation::kLeakyReLU:
      return "leaky_relu";
    case Activation::kNone:
      break;
  }
  return "none";
}

Scalars attribute_scalars(Activation a) {
  Scalars s;
  if (a == Activation::kLeakyReLU) s.push_back(at::Scalar(kLeakyReLUSlope));
  return s;
}

}  // namespace

bool fused_convolutions_available() {
  return unary_op().has_value() && binary_op().has_value() && sum_into_op().has_value();
}

torch::Tensor apply_activation(const torch::Tensor& x, Activation activation) {
  switch (activation) {
    case Activation::kReLU:
      return torch::relu(x);
    case Activation::kLeakyReLU:
      return torch::leaky_relu(x, kLeakyReLUSlope);
    case Activation::kNone:
      break;
  }
  return x;
}

torch::Tensor conv_then(torch::nn::Conv2d& conv, const torch::Tensor& x, Activation activation) {
  if (!fuse(conv, x) || !unary_op()) return apply_activation(conv(x), activation);
  const ConvGeometry g = geometry(conv);
  return unary_op()->call(x, conv->weight, conv->bias, g.padding, g.stride, g.dilation, g.groups,
                          attribute(activation), attribute_scalars(activation), std::nullopt);
}

torch::Tensor conv_plus(torch::nn::Conv2d& conv, const torch::Tensor& x,
                        const torch::Tensor& residual) {
  if (!fuse(conv, x) || !binary_op()) return conv(x) + residual;
  const ConvGeometry g = geometry(conv);
  return binary_op()->call(x, residual, conv->weight, conv->bias, g.padding, g.stride, g.dilation,
                           g.groups, "add", at::Scalar(1.0), std::nullopt, Scalars(), std::nullopt);
}

torch::Tensor& add_conv_into(torch::Tensor& accumulator, torch::nn::Conv2d& conv,
                             const torch::Tensor& x) {
  // (LibTorch's op itself falls back to a convolution and add_ where accumulator is not
  // channels-last.)
  if (!fuse(conv, x) || !sum_into_op()) return accumulator.add_(conv(x));
  const ConvGeometry g = geometry(conv);
  return sum_into_op()->call(accumulator, x, conv->weight, conv->bias, g.padding, g.stride,
                             g.dilation, g.groups, "add", at::Scalar(1.0), std::nullopt, Scalars(),
                             std::nullopt);
}

}  // namespace nic
