#include "codec/latent_refinement.h"

#include <cmath>

#include "common/error.h"
#include "model/entropy_model.h"
#include "nic/nic.h"

namespace nic {

namespace {

// The schedule: Adam on y / step (so that the learning rate is in quantization bins), the
// temperature falling geometrically from kStartTemperature to kEndTemperature.
constexpr double kLearningRate = 0.02;
constexpr double kStartTemperature = 0.5;
constexpr double kEndTemperature = 0.05;
constexpr uint64_t kNoiseSeed = 0x6e6963;  // the same noise every run: encoding stays repeatable

// Stochastic Gumbel annealing: r rounds up with probability sigmoid((l_up - l_down + noise) / tau),
// where l = -atanh(distance to that integer) / tau; the relaxed sample is floor(r) + that weight.
torch::Tensor annealed_round(const torch::Tensor& r, double tau, const torch::Tensor& noise) {
  constexpr double eps = 1e-5;
  const torch::Tensor lower = torch::floor(r).detach();
  const torch::Tensor above = (r - lower).clamp(eps, 1.0 - eps);  // distance to the lower integer
  const torch::Tensor l_down = -torch::atanh(above) / tau;
  const torch::Tensor l_up = -torch::atanh(1.0 - above) / tau;
  return lower + torch::sigmoid((l_up - l_down + noise) / tau);
}

}  // namespace

int refinement_iterations(int effort) {
  require(effort >= NIC_EFFORT_MIN && effort <= NIC_EFFORT_MAX, NIC_ERROR_INVALID_ARGUMENT,
          "effort must be between " + std::to_string(NIC_EFFORT_MIN) + " and " +
              std::to_string(NIC_EFFORT_MAX));
  return effort == 1 ? 0 : 8 << (effort - 2);  // 8, 16, 32, ... 1024
}

torch::Tensor refine_latents(const LatentSearchSpace& space, const RefinementTarget& target,
                             const torch::Tensor& y, int iterations) {
  if (iterations <= 0) return y;
  c10::InferenceMode no_inference(false);
  torch::AutoGradMode grad(true);
  // Tensors made under inference mode cannot be saved for backward: work on copies.
  const torch::Tensor features = space.features.clone(), hyper_means = space.hyper_means.clone();
  const torch::Tensor step = space.step.clone(), image = target.image.clone();
  const torch::Tensor base_index = space.base_index.clone();
  SynthesisTransform synthesis = space.synthesis;  // shares the module; forward is not const
  torch::Tensor u = (y.clone() / step).detach().requires_grad_(true);
  torch::optim::Adam optimizer({u}, torch::optim::AdamOptions(kLearningRate));
  const double pixels = double(target.height * target.width);
  const double distortion_weight = target.lambda * 255.0 * 255.0;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(kNoiseSeed);
  for (int i = 0; i < iterations; ++i) {
    const double progress = iterations > 1 ? double(i) / (iterations - 1) : 1.0;
    const double tau = kStartTemperature * std::pow(kEndTemperature / kStartTemperature, progress);
    auto rounding = [&](const torch::Tensor& r) {
      const torch::Tensor uniform =
          torch::rand(r.sizes(), generator, torch::kFloat32).clamp(1e-6, 1.0 - 1e-6).to(r.device());
      return annealed_round(r, tau, torch::log(uniform) - torch::log1p(-uniform));  // logistic
    };
    const LatentCoding::Relaxed relaxed =
        space.coding.relaxed(u * step, features, hyper_means, step, rounding);
    torch::Tensor scale_index;
    {
      torch::NoGradGuard no_grad;
      scale_index = space.coding.scale_index_map(
          base_index, torch::round(relaxed.symbols).to(torch::kInt64), space.context_scales);
    }
    const torch::Tensor bits =
        -torch::log2(latent_likelihood(relaxed.symbols,
                                       sigma_from_scale_index(scale_index.to(torch::kFloat32)),
                                       space.distribution_shape))
             .sum();
    const torch::Tensor x_hat =
        synthesis->forward(relaxed.y_hat).slice(2, 0, target.height).slice(3, 0, target.width);
    const torch::Tensor mse =
        (x_hat - image.slice(2, 0, target.height).slice(3, 0, target.width)).pow(2).mean();
    const torch::Tensor loss = distortion_weight * mse + bits / pixels;
    u.mutable_grad() = torch::autograd::grad({loss}, {u})[0];
    optimizer.step();
  }
  return (u.detach() * step).contiguous();
}

}  // namespace nic
