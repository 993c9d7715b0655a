#include "model/cpu_memory_pool.h"

#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace nic {

namespace {

// Blocks carry their size in a header in front of the data; 64 bytes keep the data aligned as
// LibTorch's own allocator does.
constexpr size_t kHeader = 64;
// Smaller blocks go straight to malloc, which keeps them in its own free lists anyway.
constexpr size_t kPooledMin = size_t(1) << 16;

// 8 size classes per octave, so a block is at most 12.5% larger than asked for.
size_t size_class(size_t n) {
  if (n < kPooledMin) return (n + 63) & ~size_t(63);
  const int top = 63 - __builtin_clzll(n);
  const size_t unit = size_t(1) << (top - 3);
  return (n + unit - 1) / unit * unit;
}

// Leaked on purpose: tensors may be freed during static destruction, after any destructor of ours.
struct PoolState {
  std::mutex mutex;
  int users = 0;
  bool caching = false;  // a frame has been coded since users became non-zero
  size_t cached_bytes = 0;
  std::map<size_t, std::vector<uint8_t*>> free_blocks;  // by block size (header included)
};
PoolState& state() {
  static PoolState* s = new PoolState;
  return *s;
}

size_t& block_size(uint8_t* block) { return *reinterpret_cast<size_t*>(block); }

void release(void* data) {
  if (!data) return;
  uint8_t* block = static_cast<uint8_t*>(data) - kHeader;
  const size_t size = block_size(block);
  if (size >= kPooledMin) {
    PoolState& s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.caching) {
      s.free_blocks[size].push_back(block);
      s.cached_bytes += size;
      return;
    }
  }
  std::free(block);
}

struct PoolAllocator final : c10::Allocator {
  c10::DataPtr allocate(size_t n) override {
    const c10::Device cpu(c10::DeviceType::CPU);
    if (n == 0) return {nullptr, nullptr, &release, cpu};
    const size_t size = size_class(n + kHeader);
    if (size >= kPooledMin) {
      PoolState& s = state();
      std::lock_guard<std::mutex> lock(s.mutex);
      // Best fit among the free blocks up to twice the size: layers of one frame ask for many
      // different sizes, and exact matches alone would keep far more memory mapped.
      for (auto it = s.free_blocks.lower_bound(size);
           it != s.free_blocks.end() && it->first <= 2 * size; ++it) {
        if (it->second.empty()) continue;
        uint8_t* block = it->second.back();
        it->second.pop_back();
        s.cached_bytes -= it->first;
        return {block + kHeader, block + kHeader, &release, cpu};
      }
    }
    auto* block = static_cast<uint8_t*>(std::aligned_alloc(64, size));
    // OutOfMemoryError, so that the C API reports NIC_ERROR_OUT_OF_MEMORY.
    TORCH_CHECK_WITH(OutOfMemoryError, block, "nic: out of memory allocating ", n, " bytes");
    block_size(block) = size;
    return {block + kHeader, block + kHeader, &release, cpu};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }
  void copy_data(void* dest, const void* src, size_t count) const override {
    default_copy_data(dest, src, count);
  }
};

// The pool allocator itself: made once and never deleted, since tensors it made keep using its
// release function after it is uninstalled.
PoolAllocator* pool_allocator() {
  static PoolAllocator* allocator = new PoolAllocator;
  return allocator;
}

}  // namespace

CpuMemoryPoolUse::CpuMemoryPoolUse() : active_(false) {
  PoolState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.users == 0) {
    // Only in place of LibTorch's own default: a host's allocator stays.
    if (c10::GetCPUAllocator() != c10::GetDefaultCPUAllocator()) return;
    c10::SetCPUAllocator(pool_allocator(), 0);
  }
  active_ = true;
  ++s.users;
}

CpuMemoryPoolUse::~CpuMemoryPoolUse() {
  if (!active_) return;
  PoolState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (--s.users > 0) return;
  if (c10::GetCPUAllocator() == pool_allocator())
    c10::SetCPUAllocator(c10::GetDefaultCPUAllocator(), 0);
  s.caching = false;
  for (auto& entry : s.free_blocks)
    for (uint8_t* block : entry.second) std::free(block);
  s.free_blocks.clear();
  s.cached_bytes = 0;
}

void CpuMemoryPoolUse::frame_coded() {
  if (!active_) return;
  PoolState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.caching = true;
}

bool cpu_memory_pool_installed() { return c10::GetCPUAllocator() == pool_allocator(); }

size_t cpu_memory_pool_cached_bytes() {
  PoolState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.cached_bytes;
}

}  // namespace nic
