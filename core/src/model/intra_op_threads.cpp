#include "model/intra_op_threads.h"

#include <ATen/Parallel.h>
#include <omp.h>

namespace nic {

// at::get_num_threads() first runs LibTorch's once-per-thread set-up, which would otherwise reset
// the team size at this thread's first parallel kernel, after the guard had set it.
IntraOpThreads::IntraOpThreads(int threads) : saved_(at::get_num_threads()) {
  omp_set_num_threads(threads);
}

IntraOpThreads::~IntraOpThreads() { omp_set_num_threads(saved_); }

}  // namespace nic
