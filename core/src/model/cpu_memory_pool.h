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

// The pool caches while at least one of these exists (the C API holds one per context); the
// last one to go returns the cached blocks to the system. NIC_MEMORY_POOL=0 in the environment
// leaves LibTorch's allocator alone (for comparisons, or to keep the host's memory use); so does
// a host that runs on tcmalloc.
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

 private:
  bool active_;
};

// Bytes held in the pool's free lists (for tests and diagnostics).
size_t cpu_memory_pool_cached_bytes();

}  // namespace nic
