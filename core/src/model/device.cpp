#include "model/device.h"

#include "common/error.h"

namespace nic {

torch::Device parse_device(const std::string& name) {
  if (name.empty() || name == "cpu") return torch::Device(torch::kCPU);
  int index = 0;
  if (name != "cuda") {
    const std::string prefix = "cuda:";
    require(name.rfind(prefix, 0) == 0 && name.size() > prefix.size() &&
                name.find_first_not_of("0123456789", prefix.size()) == std::string::npos &&
                name.size() < prefix.size() + 4,
            NIC_ERROR_INVALID_ARGUMENT, "unknown device '" + name + "' (use cpu, cuda or cuda:N)");
    index = std::stoi(name.substr(prefix.size()));
  }
  require(torch::cuda::is_available(), NIC_ERROR_DEVICE,
          "device '" + name +
              "' requested, but CUDA is not available: no GPU is visible, or nic was built "
              "without LibTorch's CUDA half (-Dcuda=disabled); use cpu");
  const int count = int(torch::cuda::device_count());
  require(index < count, NIC_ERROR_DEVICE,
          "device '" + name + "' requested, but only " + std::to_string(count) +
              " CUDA device(s) exist");
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

}  // namespace nic
