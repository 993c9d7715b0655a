// Contexts keep their thread counts to themselves: opening and using one leaves LibTorch's
// process-wide setting as the host had it, and contexts with different thread counts, used from
// two threads at once, code exactly what each codes alone.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

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

}  // namespace
