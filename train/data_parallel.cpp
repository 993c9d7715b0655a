#include "data_parallel.h"

// ProcessGroupGloo.hpp names Gloo's types; LibTorch carries Gloo itself, and the declarations come
// from Debian's libgloo-dev (scripts/install-deps.sh).
#include <chrono>
#include <cstdlib>
#include <string>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "common/error.h"
#include "toolkit/tool_support.h"

namespace nic {

struct DataParallel::Group {
  c10::intrusive_ptr<c10d::ProcessGroupGloo> process_group;
};

namespace {

std::string environment(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

int64_t environment_integer(const char* name, int64_t lo, int64_t hi) {
  const std::string v = environment(name);
  require(!v.empty(), NIC_ERROR_INVALID_ARGUMENT,
          std::string("data-parallel training needs ") + name +
              " (with RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)");
  return tools::parse_integer(name, v, lo, hi);
}

}  // namespace

int DataParallel::world_size_from_environment() {
  return environment("WORLD_SIZE").empty() ? 1 : int(environment_integer("WORLD_SIZE", 1, 4096));
}

std::unique_ptr<DataParallel> DataParallel::from_environment() {
  const int world_size = world_size_from_environment();
  if (world_size == 1) return nullptr;
  const std::string world = std::to_string(world_size);
  const int rank = int(environment_integer("RANK", 0, world_size - 1));
  const std::string address = environment("MASTER_ADDR");
  require(!address.empty(), NIC_ERROR_INVALID_ARGUMENT,
          "data-parallel training needs MASTER_ADDR (with RANK, WORLD_SIZE, MASTER_PORT)");
  const int port = int(environment_integer("MASTER_PORT", 1, 65535));
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = uint16_t(port);
    store_options.isServer = rank == 0;
    store_options.numWorkers = world_size;
    store_options.timeout = std::chrono::minutes(5);  // to form the group
    auto store = c10::make_intrusive<c10d::TCPStore>(address, store_options);
    // Collectives wait for the main process's validation (minutes on a CPU).
    auto options = c10d::ProcessGroupGloo::Options::create(std::chrono::minutes(60));
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(address));
    auto group = std::make_unique<Group>();
    group->process_group =
        c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world_size, options);
    return std::unique_ptr<DataParallel>(new DataParallel(rank, world_size, std::move(group)));
  } catch (const std::exception& e) {
    throw Error(NIC_ERROR_IO, "data-parallel: could not form the process group of " + world +
                                  " at " + address + ":" + std::to_string(port) + ": " + e.what());
  }
}

DataParallel::DataParallel(int rank, int world_size, std::unique_ptr<Group> group)
    : rank_(rank), world_size_(world_size), group_(std::move(group)) {}

DataParallel::~DataParallel() = default;

void DataParallel::average_gradients(const std::vector<torch::Tensor>& parameters) {
  std::vector<torch::Tensor> grads;
  for (const torch::Tensor& p : parameters)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return;
  std::vector<torch::Tensor> flat = {torch::cat(
      [&] {
        std::vector<torch::Tensor> views;
        for (const torch::Tensor& g : grads) views.push_back(g.reshape(-1));
        return views;
      }(),
      0)};
  group_->process_group->allreduce(flat)->wait();
  flat[0].div_(double(world_size_));
  int64_t offset = 0;
  for (torch::Tensor& g : grads) {
    g.copy_(flat[0].slice(0, offset, offset + g.numel()).view_as(g));
    offset += g.numel();
  }
}

void DataParallel::broadcast_from_main(const std::vector<torch::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  for (const torch::Tensor& t : tensors) {
    std::vector<torch::Tensor> one = {t.detach()};
    group_->process_group->broadcast(one)->wait();
  }
}

void DataParallel::barrier() { group_->process_group->barrier()->wait(); }

bool DataParallel::any(bool flag) {
  std::vector<torch::Tensor> value = {torch::full({1}, flag ? 1.0f : 0.0f)};
  c10d::AllreduceOptions max;
  max.reduceOp = c10d::ReduceOp::MAX;
  group_->process_group->allreduce(value, max)->wait();
  return value[0].item<float>() > 0;
}

}  // namespace nic
