// RocksDB's memory in a fixed budget (Flink's managed memory for RocksDB): one LRU block cache
// and one WriteBufferManager that charges every memtable to that cache, shared by all backends
// and column families opened with the same budget. So RocksDB's memory no longer grows with
// states × subtasks: blocks, index and filter blocks and memtables all live in one budget, and
// memtables are flushed when their share fills up.
//
// The budget is split as Flink splits it: with write-buffer ratio r, the write-buffer manager
// may hold 2r/3 of the budget (it flushes at 2r/3 and lets memtables grow to 1.5× that, so up to
// r of the budget) and the cache is sized (3 − r)/3 of it, memtables included.
//
// Writers outrunning the flushes would grow memtables past that share (five times the budget in
// bench/memory_bench), and RocksDB's own stall (allow_stall) deadlocks many databases sharing one
// manager: a stalled writer waits for a flush that no database triggers. So weir bounds them
// itself (WaitForMemtableRoom): past the manager's size, the largest mutable memtable of any
// database in the budget is flushed, and past 1.5× a writer waits, but only while flushes are
// under way, which never depend on writers, and at most a second per write.
// Index and filter blocks are cached with high priority (`high_prio_pool_ratio` of the cache is
// reserved for them), so data blocks cannot push them out.
//
// Budgets are shared by value: backends asking for an equal budget get the same resources while
// any of them is open (RocksDbSharedMemory::For); a budget per slot (fixed-per-slot) is keyed by
// the slot too.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "weir/config.h"
#include "weir/status.h"

namespace rocksdb {
class Cache;
class WriteBufferManager;
struct BlockBasedTableOptions;
}  // namespace rocksdb

namespace weir {

class WriteBackCacheBudget;

// A database whose memtables are charged to a budget (RocksDbSharedMemory::AddMemtableHolder).
class MemtableHolder {
 public:
  virtual ~MemtableHolder() = default;
  struct Usage {
    uint64_t largest_mutable_bytes = 0;  // the largest mutable memtable of its column families
    uint64_t immutable_memtables = 0;    // memtables waiting for or in a flush
  };
  virtual Usage MemtableUsage() = 0;
  // Starts a flush of the column family with the largest mutable memtable; does not wait.
  virtual void FlushLargestMemtable() = 0;
};

struct RocksDbMemoryBudget {
  uint64_t bytes = 0;  // the whole budget: block cache and memtables
  double write_buffer_ratio = 0.5;
  double high_prio_pool_ratio = 0.1;
  // The write-back caches' share (state.backend.rocksdb.memory.write-back-cache-ratio); 0: the
  // backends have none.
  double write_back_cache_ratio = 0;
  int slot = -1;  // the slot a fixed-per-slot budget belongs to; -1: the process's budget
  bool operator==(const RocksDbMemoryBudget&) const = default;
};

class RocksDbSharedMemory {
 public:
  // The resources of `budget`, created on first use and shared until the last holder lets go.
  static std::shared_ptr<RocksDbSharedMemory> For(const RocksDbMemoryBudget& budget);
  ~RocksDbSharedMemory();

  const RocksDbMemoryBudget& budget() const { return budget_; }
  const std::shared_ptr<rocksdb::Cache>& cache() const { return cache_; }
  const std::shared_ptr<rocksdb::WriteBufferManager>& write_buffer_manager() const {
    return write_buffer_manager_;
  }
  // The write-back caches' share of the budget; null when they have none.
  const std::shared_ptr<WriteBackCacheBudget>& write_back_cache() const {
    return write_back_cache_;
  }
  uint64_t cache_capacity() const;
  uint64_t write_buffer_capacity() const;
  // The memtables' allocation unit: 1/256 of the write-buffer manager's size, between 32 KiB and
  // RocksDB's default 8 MiB. Every non-empty memtable holds at least one block, so 80 states ×
  // subtasks hold at least 80 blocks: with 1/256 that floor stays under a third of the memtables'
  // share (RocksDB's default, 1/8 of a 64 MiB write buffer each, would exceed small budgets).
  uint64_t arena_block_size() const;
  // Block cache and memtable memory in use now (the memtables are charged to the cache).
  uint64_t usage() const;
  // Table options reading through the shared cache, index and filter blocks in it with high
  // priority.
  void ConfigureTable(rocksdb::BlockBasedTableOptions* table) const;

  // Databases in this budget, for WaitForMemtableRoom; a holder is removed before it closes.
  void AddMemtableHolder(MemtableHolder* holder);
  void RemoveMemtableHolder(MemtableHolder* holder);
  // Called after a write to a database in this budget: returns at once while the memtables are
  // within the manager's size; past it starts a flush of the largest mutable memtable (while
  // fewer than two flushes are under way), and past 1.5× the manager's size waits for flushes
  // under way, at most `max_wait` in all. Returns the time waited.
  std::chrono::milliseconds WaitForMemtableRoom(
      std::chrono::milliseconds max_wait = std::chrono::seconds(1));

 private:
  explicit RocksDbSharedMemory(const RocksDbMemoryBudget& budget);
  RocksDbMemoryBudget budget_;
  std::shared_ptr<rocksdb::Cache> cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffer_manager_;
  std::shared_ptr<WriteBackCacheBudget> write_back_cache_;
  std::mutex holders_mu_;
  std::vector<MemtableHolder*> holders_;
};

// The budget `config` asks a backend of `slot` for: none (nullopt) when
// state.backend.rocksdb.memory.managed is false; fixed-per-slot when set (a budget per slot);
// else the process's (taskmanager.memory.managed.size, default DefaultManagedMemoryBytes()).
std::optional<RocksDbMemoryBudget> RocksDbMemoryBudgetFromConfig(const Configuration& config,
                                                                 int slot);
// The default process budget: a tenth of the machine's physical memory, at least 128 mb.
uint64_t DefaultManagedMemoryBytes();

}  // namespace weir
