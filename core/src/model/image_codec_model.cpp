#include "model/image_codec_model.h"

namespace nic {

torch::Tensor round_straight_through(const torch::Tensor& x) {
  return x + (torch::round(x) - x).detach();
}

torch::Tensor step1_mask(int64_t channels, int64_t h, int64_t w, const torch::TensorOptions& opts) {
  torch::Tensor rows = torch::arange(h, torch::kInt64).view({h, 1});
  torch::Tensor cols = torch::arange(w, torch::kInt64).view({1, w});
  torch::Tensor even = ((rows + cols) % 2 == 0).to(torch::kFloat32);  // [h, w]
  torch::Tensor first = even.unsqueeze(0).expand({channels / 2, h, w});
  torch::Tensor second = (1.0 - even).unsqueeze(0).expand({channels - channels / 2, h, w});
  return torch::cat({first, second}, 0).unsqueeze(0).to(opts);
}

ImageCodecModelImpl::ImageCodecModelImpl(const ModelConfig& c) : config(c) {
  g_a = register_module("g_a", AnalysisTransform(c));
  g_s = register_module("g_s", SynthesisTransform(c));
  h_a = register_module("h_a", HyperAnalysis(c));
  h_s = register_module("h_s", HyperMeanSynthesis(c));
  means = register_module("means", MeanPredictor(c));
  scale_net = register_module("scale_net", ScaleNetTrainable(c));
  z_prior = register_module("z_prior", FactorizedPrior(c.hyper_channels));
  q_basic_log2 = register_parameter("q_basic_log2", torch::zeros({c.latent_channels}));
  // Anchor 0 is the finest step (best quality); each next anchor about 1.6x coarser.
  const int64_t anchors = static_cast<int64_t>(c.anchor_lambdas.size());
  q_anchor_log2 = register_parameter("q_anchor_log2",
                                     torch::linspace(-1.0, -1.0 + 0.7 * (anchors - 1), anchors));
}

TrainOutput ImageCodecModelImpl::forward_train(const torch::Tensor& x, const torch::Tensor& anchor) {
  const int64_t batch = x.size(0);
  torch::Tensor y = g_a(x);
  torch::Tensor z = h_a(y);
  torch::Tensor z_noisy = z + torch::rand_like(z) - 0.5;
  torch::Tensor z_hat = round_straight_through(z);
  torch::Tensor z_bits = bits_per_item(z_prior->likelihood(z_noisy));

  torch::Tensor features = h_s(z_hat);
  torch::Tensor log2_step =
      q_basic_log2.view({1, -1, 1, 1}) + q_anchor_log2.index_select(0, anchor).view({batch, 1, 1, 1});
  torch::Tensor step = torch::exp2(log2_step);
  torch::Tensor index = scale_net(z_hat) - kScaleIndexStepsPerOctave * log2_step;
  torch::Tensor sigma = sigma_from_scale_index(
      torch::clamp(round_straight_through(index), 0.0, double(kScaleLevels - 1)));

  torch::Tensor mask1 = step1_mask(y.size(1), y.size(2), y.size(3), y.options());
  torch::Tensor mask2 = 1.0 - mask1;
  torch::Tensor mu1 = means->step1(features);
  torch::Tensor s1 = (y - mu1) / step;
  torch::Tensor y_hat1 = (round_straight_through(s1) * step + mu1) * mask1;
  torch::Tensor mu2 = means->step2(features, y_hat1);
  torch::Tensor s2 = (y - mu2) / step;
  torch::Tensor y_hat = y_hat1 + (round_straight_through(s2) * step + mu2) * mask2;

  torch::Tensor s = s1 * mask1 + s2 * mask2;
  torch::Tensor y_bits = bits_per_item(gaussian_likelihood(s + torch::rand_like(s) - 0.5, sigma));
  return {g_s(y_hat), y_bits, z_bits};
}

}  // namespace nic
