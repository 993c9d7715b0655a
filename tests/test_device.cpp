// LibTorch's CUDA half is loaded at run time (model/device.h): a process coding on the CPU of a
// machine without a GPU never maps it, and a process that asks for CUDA gets it loaded with live
// CUDA hooks, so that a GPU would be used. Each case runs in a fresh process (a gtest death test
// in the threadsafe style re-executes the binary), since loading cannot be undone.
#include <ATen/detail/CUDAHooksInterface.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "test_helpers.h"

namespace {

bool maps_contain(const std::string& library) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line))
    if (line.find(library) != std::string::npos) return true;
  return false;
}

// Ends a death-test child: exit status 0 when the check held, 1 with a message when not.
[[noreturn]] void finish(bool ok, const std::string& why) {
  if (!ok) std::fprintf(stderr, "%s\n", why.c_str());
  std::fflush(stderr);
  std::_Exit(ok ? 0 : 1);
}

class Device : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(Device, CpuCodingLeavesTheCudaHalfUnloaded) {
  if (nic_test::nvidia_gpu_visible()) GTEST_SKIP() << "this machine has a GPU: the CUDA half loads";
  EXPECT_EXIT(
      {
        nic_test::ContextHolder ctx(nic_test::test_model_path(), 2);
        if (ctx.status() != NIC_OK) finish(false, nic_last_error());
        const std::vector<uint8_t> rgb = nic_test::synthetic_image(96, 64);
        const std::vector<uint8_t> frame = nic_test::encode(ctx.get(), rgb, 96, 64, 20);
        if (nic_test::decode(ctx.get(), frame, 96, 64).empty()) finish(false, nic_last_error());
        finish(maps_contain("libtorch_cpu.so") && !maps_contain("libtorch_cuda.so"),
               "libtorch_cuda.so is mapped after coding on the CPU");
      },
      ::testing::ExitedWithCode(0), "");
}

TEST_F(Device, AskingForCudaLoadsTheCudaHalfWithLiveHooks) {
#ifndef NIC_WITH_CUDA
  GTEST_SKIP() << "built without LibTorch's CUDA half (-Dcuda=disabled)";
#endif
  EXPECT_EXIT(
      {
        nic_test::ContextHolder ctx(nic_test::test_model_path(), 2, NIC_EFFORT_DEFAULT, "cuda");
        const std::string error = ctx.status() == NIC_OK ? "" : nic_last_error();
        if (!nic_test::nvidia_gpu_visible() &&
            (ctx.status() != NIC_ERROR_DEVICE || error.find("no NVIDIA GPU") == std::string::npos))
          finish(false, "without a GPU, expected NIC_ERROR_DEVICE 'no NVIDIA GPU', got " +
                            std::to_string(ctx.status()) + " '" + error + "'");
        if (nic_test::nvidia_gpu_visible() && ctx.status() != NIC_OK) finish(false, error);
        if (!maps_contain("libtorch_cuda.so")) finish(false, "libtorch_cuda.so is not mapped");
        const auto& hooks = at::detail::getCUDAHooks();
        finish(hooks.hasCUDART() && hooks.versionCUDART() > 0,
               "LibTorch's CUDA hooks are the CPU-only stub after loading the CUDA half");
      },
      ::testing::ExitedWithCode(0), "");
}

TEST_F(Device, AnUnknownDeviceIsRefused) {
  nic_test::ContextHolder ctx(nic_test::test_model_path(), 2, NIC_EFFORT_DEFAULT, "tpu");
  EXPECT_EQ(ctx.status(), NIC_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(nic_last_error()).find("unknown device 'tpu'"), std::string::npos)
      << nic_last_error();
}

}  // namespace
