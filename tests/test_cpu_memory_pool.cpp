// The CPU tensor pool: nothing cached before the first frame, reuse after it while a codec holds
// the pool, nothing cached after the last one goes, tensors that outlive it, and a codec's output
// unchanged when it runs on recycled memory.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "codec/frame_codec.h"
#include "model/cpu_memory_pool.h"
#include "test_helpers.h"

using namespace nic_test;

namespace {

constexpr int64_t kLarge = int64_t(1) << 20;  // floats: 4 MiB, well above the pooled minimum

TEST(CpuMemoryPool, CachesNothingBeforeTheFirstFrame) {
  EXPECT_FALSE(nic::cpu_memory_pool_installed());
  nic::CpuMemoryPoolUse use;
  EXPECT_TRUE(use.active());
  EXPECT_TRUE(nic::cpu_memory_pool_installed());
  { torch::Tensor t = torch::empty({kLarge}); }
  EXPECT_EQ(nic::cpu_memory_pool_cached_bytes(), 0u);
}

TEST(CpuMemoryPool, HandsAFreedBlockOutAgainWhileInUse) {
  nic::CpuMemoryPoolUse use;
  use.frame_coded();
  const size_t before = nic::cpu_memory_pool_cached_bytes();
  torch::Tensor a = torch::empty({kLarge});
  void* block = a.data_ptr();
  a = torch::Tensor();
  EXPECT_GE(nic::cpu_memory_pool_cached_bytes(), before + size_t(kLarge) * 4);
  torch::Tensor b = torch::empty({kLarge - 1000});  // same size class
  EXPECT_EQ(b.data_ptr(), block);
  EXPECT_EQ(nic::cpu_memory_pool_cached_bytes(), before);
}

TEST(CpuMemoryPool, SmallTensorsAreNotCached) {
  nic::CpuMemoryPoolUse use;
  use.frame_coded();
  const size_t before = nic::cpu_memory_pool_cached_bytes();
  { torch::Tensor t = torch::ones({100}); }
  EXPECT_EQ(nic::cpu_memory_pool_cached_bytes(), before);
}

TEST(CpuMemoryPool, LastUseReturnsEverything) {
  torch::Tensor survivor;
  {
    nic::CpuMemoryPoolUse first;
    first.frame_coded();
    {
      nic::CpuMemoryPoolUse second;
      torch::Tensor t = torch::empty({kLarge});
    }
    EXPECT_GT(nic::cpu_memory_pool_cached_bytes(), 0u);  // `first` still holds the pool
    survivor = torch::full({kLarge}, 3.0f);
  }
  EXPECT_EQ(nic::cpu_memory_pool_cached_bytes(), 0u);
  EXPECT_FALSE(nic::cpu_memory_pool_installed());  // LibTorch's default allocator is back
  // A tensor that outlives every use is still valid, and freeing it caches nothing.
  EXPECT_EQ(survivor.sum().item<float>(), 3.0f * kLarge);
  survivor = torch::Tensor();
  EXPECT_EQ(nic::cpu_memory_pool_cached_bytes(), 0u);
}

TEST(CpuMemoryPool, CodecOutputIsUnchangedOnRecycledMemory) {
  const uint32_t w = 256, h = 192;
  const std::vector<uint8_t> rgb = synthetic_image(w, h);
  nic::FrameCodecOptions o;
  o.model_path = test_model_path();
  o.threads = 2;
  std::vector<uint8_t> plain;
  {
    nic::FrameCodec codec(o);
    plain = codec.encode(rgb.data(), w, h, size_t(w) * 3, 20.0f);
  }
  nic::CpuMemoryPoolUse use;
  nic::FrameCodec codec(o);
  for (int i = 0; i < 3; ++i) {  // later rounds run on blocks the earlier ones left dirty
    SCOPED_TRACE("round " + std::to_string(i));
    use.frame_coded();
    EXPECT_EQ(codec.encode(rgb.data(), w, h, size_t(w) * 3, 20.0f), plain);
    std::vector<uint8_t> a(rgb.size()), b(rgb.size());
    codec.decode(plain.data(), plain.size(), a.data(), size_t(w) * 3, a.size());
    codec.decode(plain.data(), plain.size(), b.data(), size_t(w) * 3, b.size());
    EXPECT_EQ(a, b);
  }
  EXPECT_GT(nic::cpu_memory_pool_cached_bytes(), 0u);
}

}  // namespace
