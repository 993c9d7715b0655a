// Starting a model whose later coding steps mix their means' inputs first (ModelConfig::
// context_mean_mix) from a trained model without the mix.
//
// Each later step's means begin with a 3x3 convolution W over all the step's inputs (3 to 6
// latent-sized parts). The mixed form replaces it by a 1x1 convolution A to R channels and a 3x3
// convolution B from those: B(A x) stands for W x. The factors come from a truncated SVD of W,
// taken in the metric of the inputs that W actually sees (their second moments C over a few
// training crops): the rank-R product that errs least on those inputs, exact at full rank. The
// inputs are far from independent (the hyper means, the features and the decoded latents of
// earlier phases say much the same), so a small R keeps nearly all of what W computes on them,
// where the same SVD without the data (C = I) would lose a quarter of W.
#pragma once

#include <vector>

#include "model/image_codec_model.h"

namespace nic {

// Second moments E[x x^T] (float64, [in, in]) of each later step's means inputs, x being the
// concatenated inputs at one position; from model's forward passes over `images` ([B, 3, H, W]
// in [0,1]), item i at rate anchor i modulo the model's anchors.
std::vector<torch::Tensor> context_input_moments(ImageCodecModelImpl& model,
                                                 const torch::Tensor& images);

struct MixedModel {
  ImageCodecModel model{nullptr};
  // Per later step: the share of W's output energy on the measured inputs that B A keeps (1 at
  // full rank).
  std::vector<double> kept;
};

// model (without the mix) with its means' inputs mixed to `channels`; `moments` as from
// context_input_moments, or empty for the data-free factorization (C = I).
MixedModel mix_context_inputs(ImageCodecModelImpl& model, int channels,
                              const std::vector<torch::Tensor>& moments = {});

}  // namespace nic
