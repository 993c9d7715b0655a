// Device selection: "cpu", "cuda", "cuda:N". The model code is the same on every device.
//
// LibTorch's CUDA half (libtorch_cuda.so and the CUDA libraries it pulls in) is not linked: it
// costs every process about 0.1 s and 350 MB of mappings at start-up, and most never use a GPU.
// It is loaded at run time, before the first codec of the process touches LibTorch, when that
// codec asks for CUDA or the machine has an NVIDIA GPU. Loading it cannot be undone, and
// LibTorch decides once, at its first CUDA query, whether CUDA exists: a process whose first
// codec ran on the CPU of a GPU-less machine cannot switch to CUDA later (there is no GPU anyway).
#pragma once

#include <torch/torch.h>

#include <string>

namespace nic {

// Throws Error(NIC_ERROR_INVALID_ARGUMENT) for an unknown name and Error(NIC_ERROR_DEVICE) when
// CUDA is asked for but this LibTorch has no CUDA support or no such GPU. Loads the CUDA half
// first where that is useful (above).
torch::Device parse_device(const std::string& name);

}  // namespace nic
