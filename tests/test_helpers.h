// Shared test fixtures: model paths from the environment, synthetic images, PSNR.
#pragma once

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "nic/nic.h"
#include "toolkit/pixel_metrics.h"

namespace nic_test {

// The small random model made at build time (meson sets NIC_TEST_MODEL).
inline std::string test_model_path() {
  const char* p = std::getenv("NIC_TEST_MODEL");
  return p ? p : "";
}

// Whether this machine has an NVIDIA GPU (its driver's control device).
inline bool nvidia_gpu_visible() { return access("/dev/nvidiactl", F_OK) == 0; }

// The shipped default model (meson sets NIC_DEFAULT_MODEL_FILE).
inline std::string default_model_path() {
  const char* p = std::getenv("NIC_DEFAULT_MODEL_FILE");
  return p ? p : "";
}

// A smooth image with some texture: gradients, a few edges and mild noise.
inline std::vector<uint8_t> synthetic_image(uint32_t w, uint32_t h, uint32_t seed = 1) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> noise(-6, 6);
  std::vector<uint8_t> rgb(size_t(w) * h * 3);
  for (uint32_t y = 0; y < h; ++y) {
    for (uint32_t x = 0; x < w; ++x) {
      const double u = double(x) / std::max(1u, w), v = double(y) / std::max(1u, h);
      const int base[3] = {int(200 * u + 30), int(180 * v + 40),
                           int(128 + 90 * std::sin(6.0 * u + 4.0 * v))};
      for (int c = 0; c < 3; ++c) {
        int value = base[c] + noise(rng) + (((x / 16 + y / 16) % 2) ? 25 : 0);
        rgb[(size_t(y) * w + x) * 3 + c] = uint8_t(std::clamp(value, 0, 255));
      }
    }
  }
  return rgb;
}

// Caps the address space of this process (a forked child) at its present size plus extra_bytes, so
// that an allocation beyond that fails as it would on a machine out of memory. False when the
// cap cannot be set.
inline bool cap_address_space(uint64_t extra_bytes) {
  std::ifstream status("/proc/self/status");
  std::string line;
  uint64_t vm_kb = 0;
  while (std::getline(status, line))
    if (line.rfind("VmSize:", 0) == 0) vm_kb = std::strtoull(line.c_str() + 7, nullptr, 10);
  const rlim_t cap = rlim_t(vm_kb * 1024 + extra_bytes);
  const rlimit limit{cap, cap};
  return vm_kb > 0 && setrlimit(RLIMIT_AS, &limit) == 0;
}

// Runs body, which returns an exit status, in a forked child that SIGALRM ends after 120 s (a
// hang fails the test instead of stopping the suite). Returns the child's exit status, 128 + the
// signal that ended it, or -1 when there was no child.
template <class Body>
int exit_status_in_child(Body body) {
  const pid_t child = fork();
  if (child < 0) return -1;
  if (child == 0) {
    alarm(120);
    _exit(body());
  }
  int status = 0;
  if (waitpid(child, &status, 0) != child) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

inline double psnr(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  return nic::psnr_8bit(a.data(), b.data(), a.size());
}

// Options for a context on `model`; `model` must outlive them.
inline NicOptions context_options(const std::string& model, int threads = 2,
                                  int effort = NIC_EFFORT_DEFAULT, const char* device = nullptr) {
  NicOptions o;
  nic_options_init(&o);
  o.model_path = model.c_str();
  o.threads = threads;
  o.effort = effort;
  o.device = device;
  return o;
}

// Options for a context on one thread that codes frames of up to `pixels` as one tile, so that a
// frame's first tensor is one large allocation (the capped-memory tests make it fail). `model`
// must outlive the options.
inline NicOptions one_tile_options(const std::string& model, uint64_t pixels) {
  NicOptions o = context_options(model, 1);
  o.tile_pixels = pixels;
  return o;
}

// Owns a NicContext.
class ContextHolder {
 public:
  // Takes context_options' arguments (model, then optionally threads, effort, device), so that
  // their defaults are defined once, there.
  template <typename... OptionArgs>
  explicit ContextHolder(const std::string& model, OptionArgs... option_args)
      : ContextHolder(context_options(model, option_args...)) {}
  explicit ContextHolder(const NicOptions& options) {
    status_ = nic_context_create(&options, &context_);
  }
  ~ContextHolder() { nic_context_destroy(context_); }
  NicStatus status() const { return status_; }
  NicContext* get() const { return context_; }

 private:
  NicContext* context_ = nullptr;
  NicStatus status_;
};

// Decodes a frame of w x h (empty on failure).
inline std::vector<uint8_t> decode(NicContext* ctx, const std::vector<uint8_t>& frame, uint32_t w,
                                   uint32_t h) {
  std::vector<uint8_t> rgb(size_t(w) * h * 3);
  if (nic_decode_rgb(ctx, frame.data(), frame.size(), rgb.data(), size_t(w) * 3, rgb.size(),
                     nullptr) != NIC_OK)
    return {};
  return rgb;
}

inline std::vector<uint8_t> encode(NicContext* ctx, const std::vector<uint8_t>& rgb, uint32_t w,
                                   uint32_t h, float qp) {
  NicBuffer buf{};
  if (nic_encode_rgb(ctx, rgb.data(), w, h, size_t(w) * 3, qp, &buf) != NIC_OK) return {};
  std::vector<uint8_t> out(buf.data, buf.data + buf.size);
  nic_buffer_free(&buf);
  return out;
}

}  // namespace nic_test
