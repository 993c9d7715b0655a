// Starting a bigger model from a trained one (Net2Net's idea, with zero-initialised readers): the
// wider model reconstructs exactly what the trained one reconstructs, and training then puts the
// new channels to use.
//
//  - Wider transforms (--widen-to): new channels in the transforms' stages start from a fresh
//    initialisation; every convolution reading them gets zero weights on them.
//  - More latents (--widen-latents-to): y gets new channels, and with it every network that
//    reads or writes y (the hyperprior, the means, the integer scale networks). The new latents
//    start as quiet copies (kNewLatentScale times) of the old latents that carry the most, with
//    means and scales to match; the synthesis reads them through zero weights, so the
//    reconstruction is unchanged and only the rate grows, until training puts them to use.
#pragma once

#include <array>

#include "model/image_codec_model.h"

namespace nic {

// model widened to `widths` and `latent_channels` (each at least the model's).
ImageCodecModel widen_model(ImageCodecModelImpl& model, const std::array<int, 3>& widths,
                            int latent_channels);

// A new latent starts as this fraction of the old latent it copies.
constexpr double kNewLatentScale = 0.25;

}  // namespace nic
