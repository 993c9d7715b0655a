// The number of threads LibTorch's CPU kernels use, set for the calling thread only.
//
// LibTorch runs its CPU kernels on OpenMP teams whose size is a per-thread OpenMP setting of the
// thread that calls them. at::set_num_threads would change LibTorch's (and MKL's) setting for the
// whole process, so that two contexts with different thread counts, or a host that tunes
// LibTorch itself, would override each other. This guard changes only the calling thread's
// setting, for its own lifetime, and puts the old value back.
#pragma once

namespace nic {

class IntraOpThreads {
 public:
  explicit IntraOpThreads(int threads);
  ~IntraOpThreads();
  IntraOpThreads(const IntraOpThreads&) = delete;
  IntraOpThreads& operator=(const IntraOpThreads&) = delete;

 private:
  int saved_;
};

}  // namespace nic
