// Device selection: "cpu", "cuda", "cuda:N". The model code is the same on every device.
//
// LibTorch's CUDA half (libtorch_cuda.so and the CUDA libraries it pulls in) is not linked: it
// costs every process about 0.1 s and 350 MB of mappings at start-up, and most never use a GPU.
// It is loaded at run time, before the first codec of the process touches LibTorch, when that
// codec asks for CUDA or the machine has an NVIDIA GPU. Loading it cannot be undone, and
// LibTorch decides once, at its first CUDA query, whether CUDA exists: a process whose first
// codec ran on the CPU of a GPU-less machine cannot switch to CUDA later (there is no GPU anyway).
#pragma once

#include <c10/core/StreamGuard.h>
#include <torch/torch.h>

#include <optional>
#include <string>

namespace nic {

// Throws Error(NIC_ERROR_INVALID_ARGUMENT) for an unknown name and Error(NIC_ERROR_DEVICE) when
// CUDA is asked for but this LibTorch has no CUDA support or no such GPU. Loads the CUDA half
// first where that is useful (above).
torch::Device parse_device(const std::string& name);

// For a thread that shares a GPU with other threads of the process: while this object lives, the
// calling thread's LibTorch work on device goes to a CUDA stream of its own (one of LibTorch's
// pool, which does not wait for other streams), so that it overlaps with theirs. On the CPU it
// changes nothing. synchronize() waits for what the thread has queued: call it before handing
// the results to another thread.
class OwnDeviceStream {
 public:
  explicit OwnDeviceStream(const torch::Device& device);
  void synchronize() const;

 private:
  std::optional<c10::StreamGuard> guard_;
};

// An empty host tensor for data on its way to or from device. For a GPU it is page-locked, so
// that the copies are direct transfers; LibTorch's caching host allocator hands the same blocks
// out again, so frames of a steady stream allocate no new ones.
torch::Tensor host_tensor(at::IntArrayRef sizes, torch::Dtype dtype, const torch::Device& device);

// t on the host: t itself on the CPU, else a copy through page-locked memory.
torch::Tensor to_host(const torch::Tensor& t);

// Whether this CPU has AMX with bfloat16 (as LibTorch's cpuinfo sees it): there oneDNN's
// bfloat16 convolutions run on the tile unit, several times faster than float32.
bool cpu_has_amx_bfloat16();

// Whether oneDNN runs bfloat16 convolutions on this CPU at all: it needs AVX-512 (BW, VL and DQ),
// AVX-NE-CONVERT or AMX, and fails at the first convolution elsewhere (an AVX2-only EPYC).
bool cpu_runs_bfloat16_convolutions();

}  // namespace nic
