#include "model/image_codec_model.h"

#include "common/error.h"

namespace nic {

namespace {

// Uniform noise in [-0.5, 0.5) shaped as t, drawn for the whole batch of which t is a share.
torch::Tensor uniform_noise_like(const torch::Tensor& t, const BatchShare& share) {
  if (share.batch == 0) return torch::rand_like(t) - 0.5;
  std::vector<int64_t> sizes = t.sizes().vec();
  sizes[0] = share.batch;
  return torch::rand(sizes, t.options().requires_grad(false))
             .slice(0, share.offset, share.offset + t.size(0)) -
         0.5;
}

}  // namespace

ImageCodecModelImpl::ImageCodecModelImpl(const ModelConfig& c) : config(c) {
  g_a = register_module("g_a", AnalysisTransform(c));
  g_s = register_module("g_s", SynthesisTransform(c));
  h_a = register_module("h_a", HyperAnalysis(c));
  // Weight files name it h_s, the usual name of a hyperprior's synthesis; here it feeds only the
  // means (the scales come from the integer networks).
  hyper_mean_synthesis = register_module("h_s", HyperMeanSynthesis(c));
  means = register_module("means", MeanPredictor(c));
  scale_net = register_module("scale_net", make_hyper_scale_net(c));
  context_scales = make_context_scale_nets(c);
  for (size_t i = 0; i < context_scales.size(); ++i)
    register_module("context_scale" + std::to_string(i + 1), context_scales[i]);
  z_prior = register_module("z_prior", FactorizedPrior(c.hyper_channels));
  q_basic_log2 = register_parameter("q_basic_log2", torch::zeros({c.latent_channels}));
  // Anchor 0 is the finest step (best quality); each next anchor about 1.6x coarser.
  const int64_t anchors = static_cast<int64_t>(c.anchor_lambdas.size());
  q_anchor_log2 = register_parameter("q_anchor_log2",
                                     torch::linspace(-1.0, -1.0 + 0.7 * (anchors - 1), anchors));
}

TrainOutput ImageCodecModelImpl::forward_train(const torch::Tensor& x, const torch::Tensor& anchor,
                                               const BatchShare& share) {
  const int64_t batch = x.size(0);
  torch::Tensor y = g_a(x);
  torch::Tensor z = h_a(y);
  torch::Tensor z_noisy = z + uniform_noise_like(z, share);
  torch::Tensor z_hat = round_straight_through(z);
  torch::Tensor z_bits = bits_per_item(z_prior->likelihood(z_noisy));

  torch::Tensor features = hyper_mean_synthesis(z_hat);
  torch::Tensor log2_step = q_basic_log2.view({1, -1, 1, 1}) +
                            q_anchor_log2.index_select(0, anchor).view({batch, 1, 1, 1});
  torch::Tensor step = torch::exp2(log2_step);
  torch::Tensor index =
      torch::clamp(round_straight_through(scale_net(z_hat) - kScaleIndexStepsPerOctave * log2_step),
                   0.0, double(kScaleLevels - 1));
  const LatentCoding coding(config, means);
  LatentCoding::Trained t = coding.train(y, features, index, step, context_scales);
  torch::Tensor s = t.residual;
  torch::Tensor y_bits = bits_per_item(latent_likelihood(s + uniform_noise_like(s, share),
                                                         sigma_from_scale_index(t.scale_index),
                                                         config.latent_distribution_shape));
  torch::Tensor y_hat = t.y_hat;
  return {g_s(y_hat), y_bits, z_bits};
}

void ImageCodecModelImpl::set_float_dtype(torch::Dtype dtype) {
  require(dtype == torch::kFloat || dtype == torch::kHalf || dtype == torch::kBFloat16,
          NIC_ERROR_INVALID_ARGUMENT, "float networks run in float32, float16 or bfloat16");
  auto convert = [dtype](torch::nn::Module& network, FloatNetworkDtype& arithmetic) {
    network.to(dtype);
    arithmetic.dtype = dtype;
  };
  convert(*g_a, *g_a);
  convert(*g_s, *g_s);
  convert(*h_a, *h_a);
  convert(*hyper_mean_synthesis, *hyper_mean_synthesis);
  convert(*means, *means);
}

void ImageCodecModelImpl::set_training_bfloat16(bool enabled) {
  for (FloatNetworkDtype* network : std::initializer_list<FloatNetworkDtype*>{
           &*g_a, &*g_s, &*h_a, &*hyper_mean_synthesis, &*means})
    network->autocast_bfloat16 = enabled;
}

}  // namespace nic
