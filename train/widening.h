// Starting a bigger model from a trained one (Net2Net's idea, with zero-initialised readers): the
// wider model computes exactly what the trained one computes, and training then puts the new
// channels to use.
//
//  - Wider transforms (--widen-to): new channels in the transforms' stages start from a fresh
//    initialisation; every convolution reading them gets zero weights on them.
//  - More latents (--widen-latents-to): y gets new channels, and with it every network that
//    reads or writes y (the hyperprior, the means, the integer scale networks). The new latents
//    start at exactly zero with zero means and a small scale, so they cost almost no rate and
//    change no reconstruction; the synthesis reads them through fresh weights once training has
//    moved its zero ones, and the analysis then learns what to put in them.
#pragma once

#include <array>

#include "model/image_codec_model.h"

namespace nic {

// model widened to `widths` and `latent_channels` (each at least the model's).
ImageCodecModel widen_model(ImageCodecModelImpl& model, const std::array<int, 3>& widths,
                            int latent_channels);

// The scale index a new latent starts at on the finest rate anchor: sigma = 1/4 step.
constexpr int kNewLatentScaleIndex = 8;

}  // namespace nic
