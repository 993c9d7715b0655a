#include "model/config.h"

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace nic {

std::string ModelConfig::to_json() const {
  nlohmann::json j;
  j["architecture"] = architecture;
  j["widths"] = widths;
  j["latent_channels"] = latent_channels;
  j["hyper_channels"] = hyper_channels;
  j["blocks_per_stage"] = blocks_per_stage;
  j["scale_net_channels"] = scale_net_channels;
  j["anchor_lambdas"] = anchor_lambdas;
  if (context_coding()) j["context_scale_channels"] = context_scale_channels;
  if (!context_scales) j["context_scales"] = false;
  if (context_mean_mix > 0) j["context_mean_mix"] = context_mean_mix;
  if (latent_distribution_shape != 2.0) j["latent_distribution_shape"] = latent_distribution_shape;
  return j.dump();
}

ModelConfig ModelConfig::from_json(const std::string& text) {
  ModelConfig c;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    c.architecture = j.at("architecture").get<std::string>();
    c.widths = j.at("widths").get<std::array<int, 3>>();
    c.latent_channels = j.at("latent_channels").get<int>();
    c.hyper_channels = j.at("hyper_channels").get<int>();
    c.blocks_per_stage = j.at("blocks_per_stage").get<int>();
    c.scale_net_channels = j.at("scale_net_channels").get<int>();
    c.anchor_lambdas = j.at("anchor_lambdas").get<std::vector<double>>();
    if (j.contains("latent_distribution_shape"))
      c.latent_distribution_shape = j.at("latent_distribution_shape").get<double>();
    if (j.contains("context_scales")) c.context_scales = j.at("context_scales").get<bool>();
    if (j.contains("context_scale_channels"))
      c.context_scale_channels = j.at("context_scale_channels").get<int>();
    if (j.contains("context_mean_mix")) c.context_mean_mix = j.at("context_mean_mix").get<int>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(NIC_ERROR_MODEL, std::string("model config: ") + e.what());
  }
  require(c.architecture == "nic-evc-1" || c.architecture == "nic-evc-2", NIC_ERROR_MODEL,
          "model config: unknown architecture '" + c.architecture + "'");
  auto sane = [](int v) { return v >= 4 && v <= 1024; };
  for (int w : c.widths) require(sane(w), NIC_ERROR_MODEL, "model config: bad stage width");
  require(sane(c.latent_channels) && c.latent_channels % 2 == 0 && sane(c.hyper_channels) &&
              sane(c.scale_net_channels) && sane(c.context_scale_channels),
          NIC_ERROR_MODEL, "model config: bad channel counts");
  require(c.context_mean_mix == 0 || (sane(c.context_mean_mix) && c.context_coding()),
          NIC_ERROR_MODEL, "model config: context_mean_mix must be 0, or 4..1024 with nic-evc-2");
  require(c.latent_distribution_shape >= 0.5 && c.latent_distribution_shape <= 4.0, NIC_ERROR_MODEL,
          "model config: latent_distribution_shape must be in 0.5 .. 4");
  require(c.blocks_per_stage >= 0 && c.blocks_per_stage <= 8, NIC_ERROR_MODEL,
          "model config: bad blocks_per_stage");
  require(c.anchor_lambdas.size() >= 2 && c.anchor_lambdas.size() <= 16, NIC_ERROR_MODEL,
          "model config: need 2..16 rate anchors");
  return c;
}

}  // namespace nic
