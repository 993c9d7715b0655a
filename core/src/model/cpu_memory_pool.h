// A pool for LibTorch's CPU tensors while a codec is open.
//
// By default LibTorch takes every tensor from glibc's malloc, which maps each large block fresh
// from the kernel and unmaps it again on free, so every frame faults in (and zeroes) all its
// activations anew: at 1920x1080 that was about half of a GStreamer nicenc frame. Hosts that link
// tcmalloc (our CLI and FFmpeg build) avoid most of it; GStreamer and other C API users do not.
// The pool keeps freed large blocks and hands them out again, in every host.
#pragma once

#include <cstddef>

namespace nic {

// The pool caches while at least one of these exists (the C API holds one per context whose host
// asked for it, NicOptions.memory_pool). LibTorch has a single CPU allocator per process, so the
// pool cannot belong to one context: the first use installs it in place of LibTorch's default,
// and the last one to go frees the cached blocks and puts the default back, leaving the process
// as it was. Tensors made from the pool stay valid after that. A host that installed its own CPU
// allocator keeps it, and the pool stays out (active() is false).
class CpuMemoryPoolUse {
 public:
  CpuMemoryPoolUse();
  ~CpuMemoryPoolUse();
  CpuMemoryPoolUse(const CpuMemoryPoolUse&) = delete;
  CpuMemoryPoolUse& operator=(const CpuMemoryPoolUse&) = delete;

  // Called after each frame coded. The pool caches from the second frame on: a process that
  // codes a single image gains nothing from it, and its blocks, reused less tightly than
  // malloc's, made a 768x512 CLI encode 10% slower.
  void frame_coded();
  bool active() const { return active_; }

 private:
  bool active_;
};

// Whether LibTorch's CPU allocator is the pool now (for tests and diagnostics).
bool cpu_memory_pool_installed();

// Bytes held in the pool's free lists (for tests and diagnostics).
size_t cpu_memory_pool_cached_bytes();

}  // namespace nic
