// Data-parallel training over LibTorch's c10d process groups: Gloo here (CPU tensors), started the
// usual way: every process gets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT (as torchrun sets
// them). Each process computes the loss of its share of the batch; the gradients are averaged
// across processes (an allreduce) before the optimizer step, so every process takes the same step
// and the result is that of one process with the whole batch (docs/design.md,
// "Training").
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

namespace nic {

class DataParallel {
 public:
  // A process group from the environment; nullptr when WORLD_SIZE is unset or 1. Throws Error on
  // a bad environment or when the group cannot form (the other processes never came).
  static std::unique_ptr<DataParallel> from_environment();
  // WORLD_SIZE (1 when unset), checked before anything waits for the other processes.
  static int world_size_from_environment();
  ~DataParallel();

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  bool is_main() const { return rank_ == 0; }

  // Replaces each tensor's gradient by its mean over the processes (one flat allreduce).
  void average_gradients(const std::vector<torch::Tensor>& parameters);
  // Copies the main process's values of these tensors into every process's.
  void broadcast_from_main(const std::vector<torch::Tensor>& tensors);
  // Returns when every process has called it.
  void barrier();
  // Whether flag is true in any process (every process gets the same answer).
  bool any(bool flag);

 private:
  struct Group;
  DataParallel(int rank, int world_size, std::unique_ptr<Group> group);
  int rank_, world_size_;
  std::unique_ptr<Group> group_;
};

}  // namespace nic
