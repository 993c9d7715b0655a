#include "training_data.h"

#include <algorithm>
#include <filesystem>

#include "common/error.h"
#include "toolkit/png_image.h"
#include "toolkit/tool_support.h"

namespace nic {

torch::Tensor load_png_tensor(const std::string& path) {
  RgbImage image = read_png(path);
  torch::Tensor t = torch::from_blob(
      image.pixels.data(), {int64_t(image.height), int64_t(image.width), 3}, torch::kUInt8);
  return t.permute({2, 0, 1}).contiguous();  // copies out of the image's buffer
}

TrainingImages::TrainingImages(const std::string& folder, int crop) : crop_(crop) {
  for (const std::string& path : tools::list_png_files(folder)) {
    torch::Tensor full = load_png_tensor(path);
    ++image_count_;
    for (double scale : {1.0, 0.75, 0.5}) {
      torch::Tensor v = full;
      if (scale != 1.0) {
        const int64_t h = int64_t(full.size(1) * scale), w = int64_t(full.size(2) * scale);
        v = torch::nn::functional::interpolate(full.unsqueeze(0).to(torch::kFloat32),
                                               torch::nn::functional::InterpolateFuncOptions()
                                                   .size(std::vector<int64_t>{h, w})
                                                   .mode(torch::kArea))
                .squeeze(0)
                .round()
                .clamp(0, 255)
                .to(torch::kUInt8);
      }
      if (v.size(1) >= crop && v.size(2) >= crop) variants_.push_back(v);
    }
  }
  require(!variants_.empty(), NIC_ERROR_IO,
          "no training image in " + folder + " is at least " + std::to_string(crop) + " px");
}

torch::Tensor TrainingImages::sample_batch(int batch, std::mt19937_64& rng) const {
  std::vector<torch::Tensor> crops;
  for (int i = 0; i < batch; ++i) {
    const torch::Tensor& v = variants_[rng() % variants_.size()];
    const int64_t top = int64_t(rng() % uint64_t(v.size(1) - crop_ + 1));
    const int64_t left = int64_t(rng() % uint64_t(v.size(2) - crop_ + 1));
    torch::Tensor c = v.slice(1, top, top + crop_).slice(2, left, left + crop_);
    if (rng() % 2) c = c.flip({2});
    crops.push_back(c);
  }
  return torch::stack(crops).to(torch::kFloat32).div_(255.0);
}

}  // namespace nic
