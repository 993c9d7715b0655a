// Contexts keep their thread counts to themselves: opening and using one leaves LibTorch's
// process-wide setting as the host had it, and contexts with different thread counts, used from
// two threads at once, code exactly what each codes alone. LibTorch's CPU allocator changes only
// while a context that asked for the memory pool is open, and never over the host's own.
#include <ATen/Parallel.h>
#include <c10/core/CPUAllocator.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <thread>
#include <vector>

#include "test_helpers.h"

namespace {

using nic_test::ContextHolder;
using nic_test::decode;
using nic_test::encode;

struct Coded {
  std::vector<uint8_t> frame, decoded;
};

Coded code(NicContext* ctx, const std::vector<uint8_t>& rgb, uint32_t w, uint32_t h, float qp) {
  Coded c;
  c.frame = encode(ctx, rgb, w, h, qp);
  c.decoded = decode(ctx, c.frame, w, h);
  return c;
}

TEST(Threads, ContextsLeaveTheHostsThreadCountAlone) {
  const int host = at::get_num_threads();
  const int other = host == 1 ? 2 : 1;
  {
    ContextHolder ctx(nic_test::test_model_path(), other);
    ASSERT_EQ(ctx.status(), NIC_OK) << nic_last_error();
    EXPECT_EQ(at::get_num_threads(), host);
    const std::vector<uint8_t> rgb = nic_test::synthetic_image(96, 64);
    EXPECT_FALSE(code(ctx.get(), rgb, 96, 64, 20).decoded.empty()) << nic_last_error();
    EXPECT_EQ(at::get_num_threads(), host);
  }
  EXPECT_EQ(at::get_num_threads(), host);
}

TEST(Threads, ContextsWithDifferentThreadCountsCodeAtOnceAsAlone) {
  ContextHolder one(nic_test::test_model_path(), 1);
  ContextHolder two(nic_test::test_model_path(), 2);
  ASSERT_EQ(one.status(), NIC_OK) << nic_last_error();
  ASSERT_EQ(two.status(), NIC_OK) << nic_last_error();
  const uint32_t w = 192, h = 128;
  const std::vector<uint8_t> a = nic_test::synthetic_image(w, h, 1),
                             b = nic_test::synthetic_image(w, h, 2);
  const Coded alone_one = code(one.get(), a, w, h, 12), alone_two = code(two.get(), b, w, h, 30);
  ASSERT_FALSE(alone_one.decoded.empty());
  ASSERT_FALSE(alone_two.decoded.empty());
  for (int round = 0; round < 3; ++round) {
    Coded together_one, together_two;
    std::thread first([&] { together_one = code(one.get(), a, w, h, 12); });
    std::thread second([&] { together_two = code(two.get(), b, w, h, 30); });
    first.join();
    second.join();
    EXPECT_EQ(together_one.frame, alone_one.frame) << "round " << round;
    EXPECT_EQ(together_one.decoded, alone_one.decoded) << "round " << round;
    EXPECT_EQ(together_two.frame, alone_two.frame) << "round " << round;
    EXPECT_EQ(together_two.decoded, alone_two.decoded) << "round " << round;
  }
}

NicContext* open_context(int memory_pool) {
  const std::string model = nic_test::test_model_path();
  NicOptions o = nic_test::context_options(model, 2);
  o.memory_pool = memory_pool;
  NicContext* ctx = nullptr;
  EXPECT_EQ(nic_context_create(&o, &ctx), NIC_OK) << nic_last_error();
  return ctx;
}

TEST(ProcessState, MemoryPoolOnlyWhenAskedAndUndoneOnClose) {
  c10::Allocator* const host = c10::GetCPUAllocator();
  ASSERT_EQ(host, c10::GetDefaultCPUAllocator());
  const std::vector<uint8_t> rgb = nic_test::synthetic_image(96, 64);
  NicContext* plain = open_context(0);
  ASSERT_NE(plain, nullptr);
  EXPECT_FALSE(code(plain, rgb, 96, 64, 20).decoded.empty());
  EXPECT_EQ(c10::GetCPUAllocator(), host);

  NicContext* pooled = open_context(1);
  NicContext* pooled_too = open_context(1);
  ASSERT_NE(pooled, nullptr);
  ASSERT_NE(pooled_too, nullptr);
  EXPECT_NE(c10::GetCPUAllocator(), host);
  for (int i = 0; i < 2; ++i)  // the pool caches from the second frame on
    EXPECT_EQ(code(pooled, rgb, 96, 64, 20).frame, code(plain, rgb, 96, 64, 20).frame);
  torch::Tensor survivor = torch::full({1 << 20}, 2.0f);  // made by the pool
  nic_context_destroy(pooled);
  EXPECT_NE(c10::GetCPUAllocator(), host);  // pooled_too still holds it
  nic_context_destroy(pooled_too);
  EXPECT_EQ(c10::GetCPUAllocator(), host);  // as the host had it
  EXPECT_EQ(survivor.sum().item<float>(), 2.0f * (1 << 20));
  survivor = torch::Tensor();
  EXPECT_FALSE(code(plain, rgb, 96, 64, 20).decoded.empty());
  nic_context_destroy(plain);
}

// A host's own CPU allocator: LibTorch's default one, counted.
struct HostAllocator final : c10::Allocator {
  int allocations = 0;
  c10::DataPtr allocate(size_t n) override {
    ++allocations;
    return c10::GetDefaultCPUAllocator()->allocate(n);
  }
  c10::DeleterFnPtr raw_deleter() const override {
    return c10::GetDefaultCPUAllocator()->raw_deleter();
  }
  void copy_data(void* dest, const void* src, size_t count) const override {
    default_copy_data(dest, src, count);
  }
};

TEST(ProcessState, MemoryPoolKeepsTheHostsAllocator) {
  static HostAllocator allocator;  // LibTorch may keep using it until the test resets it
  c10::SetCPUAllocator(&allocator, 0);
  NicContext* pooled = open_context(1);
  ASSERT_NE(pooled, nullptr);
  EXPECT_EQ(c10::GetCPUAllocator(), &allocator);
  const std::vector<uint8_t> rgb = nic_test::synthetic_image(64, 48);
  EXPECT_FALSE(code(pooled, rgb, 64, 48, 20).decoded.empty());
  EXPECT_GT(allocator.allocations, 0);
  nic_context_destroy(pooled);
  EXPECT_EQ(c10::GetCPUAllocator(), &allocator);
  c10::SetCPUAllocator(c10::GetDefaultCPUAllocator(), 0);
}

}  // namespace
