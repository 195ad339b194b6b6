// RocksDB's memory in one budget (state/rocksdb/rocksdb_shared_memory.h): every backend of a
// process shares one block cache and one write-buffer manager sized from the budget; writing far
// more than the budget through many states and backends keeps RocksDB's memory within it; a
// fixed-per-slot budget is one per slot; unmanaged backends keep RocksDB's own defaults; the
// keys are Flink's and their values are checked.
#include <gtest/gtest.h>
#include <rocksdb/cache.h>
#include <rocksdb/write_buffer_manager.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "state/rocksdb/rocksdb_backend_factory.h"
#include "state/rocksdb/rocksdb_keyed_state_backend.h"
#include "state/rocksdb/rocksdb_options.h"
#include "state/rocksdb/rocksdb_shared_memory.h"
#include "state/rocksdb/rocksdb_write_back_cache.h"
#include "testing/temp_dir.h"

namespace weir {
namespace {

class RocksDbMemoryTest : public ::testing::Test {
 protected:
  std::unique_ptr<RocksDbKeyedStateBackend> Open(const Configuration& config, int slot,
                                                 const std::string& id) {
    KeyedStateBackendParameters p;
    p.backend_id = id;
    p.local_dir = tmp_.Sub(id);
    p.config = &config;
    p.slot = slot;
    auto b = CreateRocksDbKeyedStateBackend(p, nullptr);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    if (!b.ok()) return nullptr;
    return std::unique_ptr<RocksDbKeyedStateBackend>(
        static_cast<RocksDbKeyedStateBackend*>(b->release()));
  }

  testing::TempDir tmp_;
};

TEST_F(RocksDbMemoryTest, BackendsOfAProcessShareOneCacheAndWriteBufferManager) {
  Configuration c;
  ASSERT_TRUE(c.Set("taskmanager.memory.managed.size", "96 mb").ok());
  auto a = Open(c, 0, "a_0");
  auto b = Open(c, 1, "b_1");
  ASSERT_TRUE(a && b);
  ASSERT_NE(a->shared_memory(), nullptr);
  EXPECT_EQ(a->shared_memory(), b->shared_memory());
  const auto& memory = *a->shared_memory();
  // The write-back caches take a quarter (they share it, half each); RocksDB gets the rest,
  // split as Flink splits it for write-buffer ratio 0.5: cache 5/6, memtables 1/3 of it.
  const uint64_t rocksdb = uint64_t{96 << 20} * 3 / 4;
  EXPECT_EQ(memory.cache_capacity(), rocksdb * 5 / 6);
  EXPECT_EQ(memory.write_buffer_capacity(), rocksdb / 3);
  EXPECT_EQ(memory.budget().high_prio_pool_ratio, 0.1);
  ASSERT_NE(memory.write_back_cache(), nullptr);
  EXPECT_EQ(memory.write_back_cache()->capacity(), uint64_t{96 << 20} / 4);
  ASSERT_NE(a->write_back_cache(), nullptr);
  EXPECT_EQ(a->write_back_cache()->limit(), uint64_t{96 << 20} / 8);

  // A budget of its own once every holder is gone: resources are not kept for nothing.
  const std::weak_ptr<RocksDbSharedMemory> weak = a->shared_memory();
  a.reset();
  b.reset();
  EXPECT_TRUE(weak.expired());
}

TEST_F(RocksDbMemoryTest, ManyStatesAndBackendsStayWithinTheBudget) {
  Configuration c;
  const uint64_t budget = 16 << 20;
  ASSERT_TRUE(c.Set("taskmanager.memory.managed.size", "16 mb").ok());
  std::vector<std::unique_ptr<RocksDbKeyedStateBackend>> backends;
  std::vector<std::vector<ValueState<std::string>*>> states;
  for (int s = 0; s < 4; ++s) {
    backends.push_back(Open(c, s, "op_" + std::to_string(s)));
    ASSERT_TRUE(backends.back());
    states.emplace_back();
    for (int k = 0; k < 10; ++k) {
      auto state = backends.back()->GetValueState(
          ValueStateDescriptor<std::string>{"state-" + std::to_string(k)});
      ASSERT_TRUE(state.ok());
      states.back().push_back(*state);
    }
  }
  const auto& memory = *backends.front()->shared_memory();
  // 160 MB of values, ten times the budget, written and read back at random.
  std::mt19937_64 rng(7);
  const std::string value(200, 'v');
  uint64_t peak = 0;
  for (int i = 0; i < 800000; ++i) {
    const size_t b = rng() % backends.size();
    ASSERT_TRUE(backends[b]
                    ->SetCurrentKey(*DefaultSerializer<std::string>(),
                                    "key-" + std::to_string(rng() % 200000))
                    .ok());
    auto* state = states[b][rng() % states[b].size()];
    if (i % 4 == 3) {
      ASSERT_TRUE(state->Value().ok());
    } else {
      ASSERT_TRUE(state->Update(value).ok());
    }
    if (i % 1000 == 0) {
      uint64_t caches = 0;
      for (const auto& backend : backends) caches += backend->write_back_cache()->bytes();
      peak = std::max(peak, memory.usage() + caches);
    }
  }
  EXPECT_GT(peak, budget / 4) << "the budget is used";
  EXPECT_LE(peak, budget + budget / 10) << "peak " << peak << " of a budget of " << budget;
  EXPECT_LE(memory.write_buffer_manager()->memory_usage(), memory.cache_capacity());
}

// One writer thread per backend, as the runtime runs them, each writing as fast as it can: the
// memtables would outgrow their share if nothing held the writers back (five times the budget in
// bench/memory_bench before the bound), and RocksDB's own stall deadlocked here.
TEST_F(RocksDbMemoryTest, ConcurrentWritersStayWithinTheBudgetWithoutHanging) {
  for (const char* write_back_cache : {"true", "false"}) {
    SCOPED_TRACE(std::string("write-back cache ") + write_back_cache);
    Configuration c;
    const uint64_t budget = 16 << 20;
    ASSERT_TRUE(c.Set("taskmanager.memory.managed.size", "16 mb").ok());
    ASSERT_TRUE(c.Set("state.backend.rocksdb.write-back-cache.enabled", write_back_cache).ok());
    std::vector<std::unique_ptr<RocksDbKeyedStateBackend>> backends;
    for (int s = 0; s < 4; ++s) {
      backends.push_back(Open(c, s, std::string("w") + write_back_cache + "_" + std::to_string(s)));
      ASSERT_TRUE(backends.back());
    }
    const auto& memory = *backends.front()->shared_memory();
    std::atomic<bool> done{false};
    std::atomic<uint64_t> peak{0};
    std::thread sampler([&] {
      while (!done) {
        uint64_t caches = 0;
        for (const auto& backend : backends) {
          if (backend->write_back_cache()) caches += backend->write_back_cache()->bytes();
        }
        peak = std::max<uint64_t>(peak, memory.usage() + caches);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
    std::vector<std::thread> writers;
    for (size_t b = 0; b < backends.size(); ++b) {
      writers.emplace_back([&, b] {
        std::vector<ValueState<std::string>*> states;
        for (int k = 0; k < 10; ++k) {
          auto state = backends[b]->GetValueState(
              ValueStateDescriptor<std::string>{"state-" + std::to_string(k)});
          ASSERT_TRUE(state.ok());
          states.push_back(*state);
        }
        std::mt19937_64 rng(b);
        const std::string value(200, static_cast<char>('a' + b));
        for (int i = 0; i < 150000; ++i) {
          ASSERT_TRUE(backends[b]
                          ->SetCurrentKey(*DefaultSerializer<std::string>(),
                                          "key-" + std::to_string(rng() % 100000))
                          .ok());
          ASSERT_TRUE(states[rng() % states.size()]->Update(value).ok());
        }
      });
    }
    for (auto& w : writers) w.join();
    done = true;
    sampler.join();
    EXPECT_GT(peak, budget / 4) << "the budget is used";
    EXPECT_LE(peak, budget + budget / 10) << "peak " << peak << " of a budget of " << budget;
  }
}

// The bound waits only for flushes under way: never for memory nothing will free, and never
// longer than it was told.
class FakeHolder : public MemtableHolder {
 public:
  FakeHolder(rocksdb::WriteBufferManager* manager, Usage usage) : manager_(manager), usage_(usage) {}
  Usage MemtableUsage() override { return usage_; }
  void FlushLargestMemtable() override {
    ++flushes;
    if (flush_frees == 0) {
      usage_.immutable_memtables++;  // a flush that never ends
      return;
    }
    manager_->FreeMem(flush_frees);
    usage_.largest_mutable_bytes = 0;
  }
  int flushes = 0;
  size_t flush_frees = 0;

 private:
  rocksdb::WriteBufferManager* manager_;
  Usage usage_;
};

TEST_F(RocksDbMemoryTest, TheMemtableBoundNeverWaitsForNothing) {
  Configuration c;
  ASSERT_TRUE(c.Set("taskmanager.memory.managed.size", "64 mb").ok());
  auto budget = RocksDbMemoryBudgetFromConfig(c, 0);
  ASSERT_TRUE(budget);
  budget->bytes += 1;  // resources of this test's own
  auto memory = RocksDbSharedMemory::For(*budget);
  rocksdb::WriteBufferManager* manager = memory->write_buffer_manager().get();
  const size_t size = manager->buffer_size();
  using std::chrono::milliseconds;

  // Within the manager's size: no wait, no flush.
  FakeHolder idle(manager, {.largest_mutable_bytes = 1 << 20, .immutable_memtables = 0});
  memory->AddMemtableHolder(&idle);
  manager->ReserveMem(size / 2);
  EXPECT_EQ(memory->WaitForMemtableRoom(milliseconds(50)).count(), 0);
  EXPECT_EQ(idle.flushes, 0);

  // Twice the size: the largest mutable memtable is flushed, and the writer goes on once that
  // brought the memtables back within the size.
  idle.flush_frees = size;
  manager->ReserveMem(size + size / 2);
  EXPECT_LT(memory->WaitForMemtableRoom(milliseconds(10000)).count(), 10000);
  EXPECT_EQ(idle.flushes, 1);
  EXPECT_LE(manager->memory_usage(), size);
  memory->RemoveMemtableHolder(&idle);

  // Over 1.5× the size and nothing to flush (the memory is pinned, or not memtables'): no wait.
  FakeHolder empty(manager, {.largest_mutable_bytes = 0, .immutable_memtables = 0});
  memory->AddMemtableHolder(&empty);
  manager->ReserveMem(size + size / 2);
  EXPECT_LT(memory->WaitForMemtableRoom(milliseconds(10000)).count(), 10000);
  EXPECT_EQ(empty.flushes, 0);
  memory->RemoveMemtableHolder(&empty);

  // A flush that never ends: the wait ends at its limit.
  FakeHolder stuck(manager, {.largest_mutable_bytes = 1 << 20, .immutable_memtables = 0});
  memory->AddMemtableHolder(&stuck);
  EXPECT_GE(memory->WaitForMemtableRoom(milliseconds(30)).count(), 30);
  EXPECT_GE(stuck.flushes, 1);
  EXPECT_LE(stuck.flushes, 2) << "at most two flushes under way";
  memory->RemoveMemtableHolder(&stuck);
  manager->FreeMem(manager->memory_usage());
}

TEST_F(RocksDbMemoryTest, FixedPerSlotIsABudgetPerSlot) {
  Configuration c;
  ASSERT_TRUE(c.Set("state.backend.rocksdb.memory.fixed-per-slot", "32 mb").ok());
  ASSERT_TRUE(c.Set("state.backend.rocksdb.memory.write-buffer-ratio", "0.3").ok());
  ASSERT_TRUE(c.Set("state.backend.rocksdb.memory.high-prio-pool-ratio", "0.2").ok());
  auto a0 = Open(c, 0, "a_0");
  auto b0 = Open(c, 0, "b_0");
  auto a1 = Open(c, 1, "a_1");
  ASSERT_TRUE(a0 && b0 && a1);
  EXPECT_EQ(a0->shared_memory(), b0->shared_memory());
  EXPECT_NE(a0->shared_memory(), a1->shared_memory());
  const double rocksdb = double(32 << 20) * 0.75;  // the write-back caches' quarter aside
  EXPECT_EQ(a1->shared_memory()->cache_capacity(),
            static_cast<uint64_t>(rocksdb * (3.0 - 0.3) / 3.0));
  EXPECT_EQ(a1->shared_memory()->write_buffer_capacity(),
            static_cast<uint64_t>(rocksdb * 2.0 * 0.3 / 3.0));
  // Two backends share slot 0's caches' share, one has slot 1's to itself.
  EXPECT_EQ(a0->write_back_cache()->limit(), uint64_t{32 << 20} / 8);
  EXPECT_EQ(a1->write_back_cache()->limit(), uint64_t{32 << 20} / 4);
}

TEST_F(RocksDbMemoryTest, WithoutWriteBackCachesRocksDbHasTheWholeBudget) {
  Configuration c;
  ASSERT_TRUE(c.Set("taskmanager.memory.managed.size", "96 mb").ok());
  ASSERT_TRUE(c.Set("state.backend.rocksdb.write-back-cache.enabled", "false").ok());
  auto a = Open(c, 0, "a_0");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->write_back_cache(), nullptr);
  EXPECT_EQ(a->shared_memory()->write_back_cache(), nullptr);
  EXPECT_EQ(a->shared_memory()->cache_capacity(), uint64_t{96 << 20} * 5 / 6);
}

TEST_F(RocksDbMemoryTest, UnmanagedWriteBackCacheHasItsOwnSize) {
  Configuration c;
  ASSERT_TRUE(c.Set("state.backend.rocksdb.memory.managed", "false").ok());
  ASSERT_TRUE(c.Set("state.backend.rocksdb.write-back-cache.size", "8 mb").ok());
  auto a = Open(c, 0, "a_0");
  auto b = Open(c, 1, "b_1");
  ASSERT_TRUE(a && b);
  ASSERT_NE(a->write_back_cache(), nullptr);
  EXPECT_EQ(a->write_back_cache()->limit(), uint64_t{8 << 20});
  EXPECT_EQ(b->write_back_cache()->limit(), uint64_t{8 << 20});
  EXPECT_FALSE(c.Set("state.backend.rocksdb.write-back-cache.size", "1 kb").ok());
}

TEST_F(RocksDbMemoryTest, UnmanagedBackendsKeepTheirOwnMemory) {
  Configuration c;
  ASSERT_TRUE(c.Set("state.backend.rocksdb.memory.managed", "false").ok());
  auto a = Open(c, 0, "a_0");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->shared_memory(), nullptr);
}

TEST_F(RocksDbMemoryTest, KeysAreFlinksAndValuesAreChecked) {
  Configuration c;
  EXPECT_TRUE(c.Get(config::kRocksDbManagedMemory));
  EXPECT_EQ(c.Get(config::kRocksDbWriteBufferRatio), 0.5);
  EXPECT_EQ(c.Get(config::kRocksDbHighPrioPoolRatio), 0.1);
  // taskmanager.memory.managed.size is no longer one of the Flink keys weir ignores.
  ASSERT_TRUE(c.Set("taskmanager.memory.managed.size", "1 gb").ok());
  EXPECT_TRUE(c.ignored_flink_keys().empty());
  EXPECT_EQ(RocksDbMemoryBudgetFromConfig(c, 3)->bytes, uint64_t{1} << 30);
  EXPECT_EQ(RocksDbMemoryBudgetFromConfig(c, 3)->slot, -1);
  for (const char* bad : {"0", "1", "1.5", "-0.1", "half", ""}) {
    Status s = c.Set("state.backend.rocksdb.memory.write-buffer-ratio", bad);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.message().find("a fraction between 0 and 1"), std::string::npos) << s.message();
  }
  EXPECT_TRUE(c.Set("state.backend.rocksdb.memory.high-prio-pool-ratio", ".25").ok());
  EXPECT_EQ(c.Get(config::kRocksDbHighPrioPoolRatio), 0.25);
  // Unset, the budget is a tenth of the machine's memory (at least 128 mb).
  Configuration defaults;
  EXPECT_EQ(RocksDbMemoryBudgetFromConfig(defaults, 0)->bytes, DefaultManagedMemoryBytes());
  EXPECT_GE(DefaultManagedMemoryBytes(), uint64_t{128} << 20);
}

}  // namespace
}  // namespace weir
