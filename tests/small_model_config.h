// A model config small enough to build and run in milliseconds, with every kind of layer (two
// blocks per stage): the model-surgery tests (mask decay, widening) cut and grow it.
#pragma once

#include "model/config.h"

namespace nic_test {

inline nic::ModelConfig small_model_config() {
  nic::ModelConfig c;
  c.widths = {24, 32, 40};
  c.latent_channels = 32;
  c.hyper_channels = 16;
  c.blocks_per_stage = 2;
  return c;
}

}  // namespace nic_test
