#include "model/device.h"

#include <ATen/cpu/Utils.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/impl/VirtualGuardImpl.h>
#include <dlfcn.h>
#include <unistd.h>

#include <mutex>

#include "common/error.h"

namespace nic {

namespace {

// Found by name: through libnic's run path (the LibTorch it was built with) or LD_LIBRARY_PATH
// (scripts/gpu-check.sh runs the binaries against the GPU machine's own PyTorch).
constexpr const char* kCudaHalf = "libtorch_cuda.so";

bool machine_has_nvidia_gpu() {
  return access("/dev/nvidiactl", F_OK) == 0 || access("/proc/driver/nvidia/version", F_OK) == 0;
}

// Loads the CUDA half once per process; returns dlerror()'s text when it cannot be loaded.
const std::string& load_cuda_half() {
  static std::once_flag once;
  static std::string failure;
  std::call_once(once, [] {
#ifdef NIC_WITH_CUDA
    // Deliberately never closed: LibTorch registers its CUDA kernels and hooks globally.
    if (!dlopen(kCudaHalf, RTLD_NOW | RTLD_GLOBAL)) failure = dlerror();
#else
    failure = "nic was built without LibTorch's CUDA half (-Dcuda=disabled)";
#endif
  });
  return failure;
}

}  // namespace

torch::Device parse_device(const std::string& name) {
  const bool gpu_visible = machine_has_nvidia_gpu();
  if (name.empty() || name == "cpu") {
    if (gpu_visible) load_cuda_half();  // so that a later context of this process can use it
    return torch::Device(torch::kCPU);
  }

  int index = 0;
  if (name != "cuda") {
    const std::string prefix = "cuda:";
    require(name.rfind(prefix, 0) == 0 && name.size() > prefix.size() &&
                name.find_first_not_of("0123456789", prefix.size()) == std::string::npos &&
                name.size() < prefix.size() + 4,
            NIC_ERROR_INVALID_ARGUMENT, "unknown device '" + name + "' (use cpu, cuda or cuda:N)");
    index = std::stoi(name.substr(prefix.size()));
  }
  const std::string& failure = load_cuda_half();
  require(failure.empty(), NIC_ERROR_DEVICE,
          "device '" + name + "' requested, but LibTorch's CUDA half cannot be loaded: " + failure +
              "; use cpu");
  require(gpu_visible, NIC_ERROR_DEVICE,
          "device '" + name +
              "' requested, but CUDA is not available: no NVIDIA GPU is visible; use cpu");
  // Live CUDA hooks say the half registered itself before LibTorch's first CUDA query.
  require(at::detail::getCUDAHooks().hasCUDART(), NIC_ERROR_DEVICE,
          "device '" + name +
              "' requested, but LibTorch had ruled out CUDA before nic could load its CUDA half "
              "(a host that uses LibTorch itself must link libtorch_cuda); use cpu");
  require(torch::cuda::is_available(), NIC_ERROR_DEVICE,
          "device '" + name + "' requested, but CUDA is not available (no usable GPU); use cpu");
  const int count = int(torch::cuda::device_count());
  require(index < count, NIC_ERROR_DEVICE,
          "device '" + name + "' requested, but only " + std::to_string(count) +
              " CUDA device(s) exist");
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

OwnDeviceStream::OwnDeviceStream(const torch::Device& device) {
  if (!device.is_cuda()) return;
  const c10::impl::VirtualGuardImpl cuda(device.type());
  guard_.emplace(cuda.getStreamFromGlobalPool(device));
}

void OwnDeviceStream::synchronize() const {
  if (guard_) guard_->current_stream().synchronize();
}

torch::Tensor host_tensor(at::IntArrayRef sizes, torch::Dtype dtype, const torch::Device& device) {
  return torch::empty(sizes, torch::TensorOptions(dtype).pinned_memory(device.is_cuda()));
}

torch::Tensor to_host(const torch::Tensor& t) {
  if (t.device().is_cpu()) return t;
  torch::Tensor host = host_tensor(t.sizes(), t.scalar_type(), t.device());
  host.copy_(t);
  return host;
}

namespace {

// Whether LibTorch's cpuinfo reports the CPU feature `name` (e.g. "amx_bf16").
bool cpu_capability(const char* name) {
  static const auto capabilities = at::cpu::get_cpu_capabilities();
  const auto it = capabilities.find(name);
  return it != capabilities.end() && it->second.isBool() && it->second.toBool();
}

}  // namespace

bool cpu_has_amx_bfloat16() {
  static const bool has = cpu_capability("amx_bf16");
  return has;
}

bool cpu_runs_bfloat16_convolutions() {
  static const bool runs =
      (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
       __builtin_cpu_supports("avx512dq")) ||
      cpu_capability("avx_ne_convert") || cpu_has_amx_bfloat16();
  return runs;
}

}  // namespace nic
