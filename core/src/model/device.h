// Device selection: "cpu", "cuda", "cuda:N". The model code is the same on every device.
#pragma once

#include <torch/torch.h>

#include <string>

namespace nic {

// Throws Error(NIC_ERROR_INVALID_ARGUMENT) for an unknown name and Error(NIC_ERROR_DEVICE) when
// CUDA is asked for but this LibTorch has no CUDA support or no such GPU.
torch::Device parse_device(const std::string& name);

}  // namespace nic
