#include "model/complexity.h"

#include <functional>

#include "common/error.h"
#include "model/image_codec_model.h"

namespace nic {

namespace {

// Walks modules tracking `area`: the number of positions of the current tensor per image pixel
// (1/4 after one stride-2 stage).
struct MacCounter {
  double macs = 0;

  // A convolution whose input has `area` positions per pixel; returns its output's area.
  double conv(const torch::nn::Conv2dImpl& c, double area) {
    const auto& o = c.options;
    const double stride = double((*o.stride())[0]) * double((*o.stride())[1]);
    const double out_area = area / stride;
    const double per_output = double(o.in_channels() / o.groups()) * double(o.out_channels()) *
                              double((*o.kernel_size())[0]) * double((*o.kernel_size())[1]);
    macs += per_output * out_area;
    return out_area;
  }

  double subpel(const SubpelConvImpl& s, double area) {
    return conv(*s.conv, area) * double(s.factor) * double(s.factor);
  }

  double module(const torch::nn::Module& m, double area) {
    if (auto* c = dynamic_cast<const torch::nn::Conv2dImpl*>(&m)) return conv(*c, area);
    if (auto* s = dynamic_cast<const SubpelConvImpl*>(&m)) return subpel(*s, area);
    if (auto* b = dynamic_cast<const DepthConvBlockImpl*>(&m)) {
      for (auto* c : {&*b->dc_in, &*b->dc_depthwise, &*b->dc_out, &*b->ffn_in, &*b->ffn_out})
        conv(*c, area);
      return area;
    }
    if (auto* d = dynamic_cast<const ResidualDownImpl*>(&m)) {
      const double out = conv(*d->conv1, area);
      conv(*d->conv2, out);
      conv(*d->shortcut, area);
      return out;
    }
    if (auto* u = dynamic_cast<const ResidualUpImpl*>(&m)) {
      const double out = subpel(*u->up, area);
      conv(*u->conv, out);
      subpel(*u->shortcut, area);
      return out;
    }
    if (auto* seq = dynamic_cast<const torch::nn::SequentialImpl*>(&m)) {
      for (const auto& child : seq->children()) area = module(*child, area);
      return area;
    }
    if (m.parameters().empty()) return area;  // activations
    throw Error(NIC_ERROR_INTERNAL, "macs_per_pixel: no count for module " + m.name());
  }

  double scale_net(const ScaleNetTrainableImpl& net, double area) {
    for (size_t i = 0; i < net.convs.size(); ++i) {
      area = conv(*net.convs[i], area) * double(net.shapes[i].shuffle * net.shapes[i].shuffle);
    }
    return area;
  }
};

double counted(MacCounter& counter, const std::function<void()>& walk) {
  const double before = counter.macs;
  walk();
  return counter.macs - before;
}

}  // namespace

ModelComplexity macs_per_pixel(ImageCodecModelImpl& model) {
  const double latent = 1.0 / (ModelConfig::kLatentDownscale * ModelConfig::kLatentDownscale);
  const double hyper = 1.0 / (ModelConfig::kHyperDownscale * ModelConfig::kHyperDownscale);
  const double phase = latent / 4;  // one 2x2 quadtree phase of the latents (nic-evc-2)
  MacCounter n;
  ModelComplexity c;
  c.analysis = counted(n, [&] { n.module(*model.g_a->body, 1.0); });
  c.synthesis = counted(n, [&] { n.module(*model.g_s->body, latent); });
  c.entropy = counted(n, [&] {
    n.module(*model.h_a->body, latent);
    n.module(*model.hyper_mean_synthesis->body, hyper);
    n.scale_net(*model.scale_net, hyper);
    n.conv(*model.means->step1_out, latent);
    if (!model.means->step2_body.is_empty()) n.module(*model.means->step2_body, latent);
    for (size_t s = 0; s < model.means->context_bodies.size(); ++s) {
      n.module(*model.means->context_bodies[s], phase);
      n.conv(*model.means->context_outs[s], phase);
    }
    for (auto& net : model.context_scales) n.scale_net(*net, phase);
  });
  return c;
}

int64_t count_parameters(const ImageCodecModelImpl& model) {
  int64_t count = 0;
  for (const auto& p : model.parameters()) count += p.numel();
  return count;
}

}  // namespace nic
