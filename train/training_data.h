// Training images, decoded once and kept in memory at a few scales; random crops from them.
#pragma once

#include <torch/torch.h>

#include <random>
#include <string>
#include <vector>

namespace nic {

class TrainingImages {
 public:
  // Loads every PNG in folder; keeps each at scales 1, 3/4 and 1/2 (the random downscale).
  TrainingImages(const std::string& folder, int crop);
  // [batch, 3, crop, crop] float in [0,1]: random image, scale, position and horizontal flip.
  torch::Tensor sample_batch(int batch, std::mt19937_64& rng) const;
  size_t image_count() const { return image_count_; }

 private:
  std::vector<torch::Tensor> variants_;  // uint8 [3, H, W], every side >= crop
  size_t image_count_ = 0;
  int crop_;
};

// uint8 [3, H, W] tensor of a PNG.
torch::Tensor load_png_tensor(const std::string& path);

}  // namespace nic
