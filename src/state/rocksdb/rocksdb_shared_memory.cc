#include "state/rocksdb/rocksdb_shared_memory.h"

#include <rocksdb/cache.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

#include "state/rocksdb/rocksdb_options.h"
#include "state/rocksdb/rocksdb_write_back_cache.h"

namespace weir {
namespace {

// Budgets in use, each held weakly: the resources go with their last backend.
struct Registry {
  std::mutex mu;
  std::vector<std::weak_ptr<RocksDbSharedMemory>> live;
};
Registry& TheRegistry() {
  static Registry* registry = new Registry();  // never destroyed: backends may outlive statics
  return *registry;
}

}  // namespace

std::shared_ptr<RocksDbSharedMemory> RocksDbSharedMemory::For(const RocksDbMemoryBudget& budget) {
  Registry& r = TheRegistry();
  std::lock_guard lock(r.mu);
  std::erase_if(r.live, [](const auto& w) { return w.expired(); });
  for (const auto& w : r.live) {
    if (auto shared = w.lock(); shared && shared->budget() == budget) return shared;
  }
  std::shared_ptr<RocksDbSharedMemory> created(new RocksDbSharedMemory(budget));
  r.live.push_back(created);
  return created;
}

RocksDbSharedMemory::RocksDbSharedMemory(const RocksDbMemoryBudget& budget) : budget_(budget) {
  // The write-back caches' share first; RocksDB splits the rest.
  const double total = static_cast<double>(budget.bytes) * (1.0 - budget.write_back_cache_ratio);
  if (budget.write_back_cache_ratio > 0) {
    write_back_cache_ = std::make_shared<WriteBackCacheBudget>(
        static_cast<uint64_t>(static_cast<double>(budget.bytes) * budget.write_back_cache_ratio));
  }
  const double r = budget.write_buffer_ratio;
  // Memtables may grow to 1.5× the manager's size before RocksDB flushes them all; sizing the
  // manager at 2r/3 keeps them within r of the budget, and the cache (which they are charged
  // to) at (3 − r)/3 keeps the whole within the budget.
  const auto cache_bytes = static_cast<size_t>(total * (3.0 - r) / 3.0);
  const auto write_buffer_bytes = static_cast<size_t>(total * 2.0 * r / 3.0);
  cache_ = rocksdb::NewLRUCache(cache_bytes, /*num_shard_bits=*/-1,
                                /*strict_capacity_limit=*/false, budget.high_prio_pool_ratio);
  // No stall: with many databases sharing the manager, a stalled writer can wait for a flush that
  // no database triggers (each one's mutable memtables below the flush limit), and the whole
  // process hangs (seen in RocksDbMemoryTest under load). WaitForMemtableRoom bounds them.
  write_buffer_manager_ = std::make_shared<rocksdb::WriteBufferManager>(write_buffer_bytes, cache_,
                                                                        /*allow_stall=*/false);
}

RocksDbSharedMemory::~RocksDbSharedMemory() = default;

uint64_t RocksDbSharedMemory::cache_capacity() const { return cache_->GetCapacity(); }
uint64_t RocksDbSharedMemory::write_buffer_capacity() const {
  return write_buffer_manager_->buffer_size();
}
uint64_t RocksDbSharedMemory::usage() const { return cache_->GetUsage(); }
uint64_t RocksDbSharedMemory::arena_block_size() const {
  return std::clamp<uint64_t>(write_buffer_capacity() / 256, uint64_t{32} << 10, uint64_t{8} << 20);
}

void RocksDbSharedMemory::ConfigureTable(rocksdb::BlockBasedTableOptions* table) const {
  table->block_cache = cache_;
  table->cache_index_and_filter_blocks = true;
  table->cache_index_and_filter_blocks_with_high_priority = true;
  table->pin_top_level_index_and_filter = true;
}

void RocksDbSharedMemory::AddMemtableHolder(MemtableHolder* holder) {
  std::lock_guard lock(holders_mu_);
  holders_.push_back(holder);
}

void RocksDbSharedMemory::RemoveMemtableHolder(MemtableHolder* holder) {
  std::lock_guard lock(holders_mu_);
  std::erase(holders_, holder);
}

std::chrono::milliseconds RocksDbSharedMemory::WaitForMemtableRoom(
    std::chrono::milliseconds max_wait) {
  const size_t flush_mark = write_buffer_manager_->buffer_size();
  if (write_buffer_manager_->memory_usage() <= flush_mark) return {};
  // Flushes of one process share RocksDB's two flush threads: two under way keep them busy.
  constexpr uint64_t kFlushesUnderWay = 2;
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  while (true) {
    {
      std::lock_guard lock(holders_mu_);
      if (write_buffer_manager_->memory_usage() <= flush_mark) break;
      MemtableHolder* largest = nullptr;
      MemtableHolder::Usage largest_usage;
      uint64_t immutable = 0;
      for (MemtableHolder* holder : holders_) {
        const MemtableHolder::Usage usage = holder->MemtableUsage();
        immutable += usage.immutable_memtables;
        if (usage.largest_mutable_bytes > largest_usage.largest_mutable_bytes) {
          largest = holder;
          largest_usage = usage;
        }
      }
      if (immutable < kFlushesUnderWay && largest != nullptr) {
        largest->FlushLargestMemtable();
        ++immutable;
      }
      // Within 1.5× the manager's size, or nothing under way that would free memory (what is
      // left is pinned by iterators, or is not memtables): go on writing.
      if (write_buffer_manager_->memory_usage() <= flush_mark + flush_mark / 2 || immutable == 0) {
        break;
      }
    }
    if (Clock::now() - start >= max_wait) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

uint64_t DefaultManagedMemoryBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGESIZE);
  const uint64_t physical =
      pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
  return std::max<uint64_t>(physical / 10, uint64_t{128} << 20);
}

std::optional<RocksDbMemoryBudget> RocksDbMemoryBudgetFromConfig(const Configuration& config,
                                                                 int slot) {
  if (!config.Get(config::kRocksDbManagedMemory)) return std::nullopt;
  RocksDbMemoryBudget budget;
  budget.write_buffer_ratio = config.Get(config::kRocksDbWriteBufferRatio);
  budget.high_prio_pool_ratio = config.Get(config::kRocksDbHighPrioPoolRatio);
  if (config.Get(config::kWriteBackCache)) {
    budget.write_back_cache_ratio = config.Get(config::kRocksDbWriteBackCacheRatio);
  }
  if (const uint64_t per_slot = config.Get(config::kRocksDbFixedPerSlot).bytes; per_slot > 0) {
    budget.bytes = per_slot;
    budget.slot = slot;
  } else {
    budget.bytes = config.Get(config::kManagedMemorySize).bytes;
    if (budget.bytes == 0) budget.bytes = DefaultManagedMemoryBytes();
  }
  return budget;
}

}  // namespace weir
