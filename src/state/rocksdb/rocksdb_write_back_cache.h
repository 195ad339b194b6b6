// WriteBackCache: the RocksDB backend's recently used rows in memory, in front of RocksDB (the
// state-table cache of RisingWave, the cache of Flink's ForSt). A state access that hits it costs
// a hash lookup instead of a memtable search (and an SST read on a memtable miss); a write only
// marks the row dirty, so a row updated many times between checkpoints reaches RocksDB once.
//
// One writer: every write to RocksDB goes through the cache's writer thread, in batches, in the
// order they were handed over, so a row's versions reach RocksDB in order:
// - at a checkpoint's synchronous part the dirty rows are handed to the writer as a batch (the
//   list of them, in constant time: each row keeps the batch's version in a slot of its own) and
//   the writer writes them, then runs the checkpoint's barrier step (the memtable switch of a
//   native checkpoint): the task pauses for neither the writes nor the rows;
// - when the cache is over its memory limit, the dirty rows are handed to the writer so that
//   they can be evicted once written (a row is never dropped before RocksDB holds it);
// - a full snapshot's (or canonical savepoint's) view is taken the same way: the writer writes
//   the dirty rows, then takes the RocksDB snapshot the asynchronous part reads;
// - Drain() writes everything on the calling thread once the writer is idle: iterations, bulk
//   loads and synchronous native checkpoints read or write RocksDB directly after it.
// A row missing from the cache is therefore never in a batch still being written: RocksDB holds
// its latest version, and a miss reads it there.
//
// The writer brings a large batch in as SST files it ingests rather than through the memtable
// (WriteBackIngestion): a checkpoint's dirty rows would be flushed by its memtable switch right
// after anyway. An ingested file holds writes made after every barrier already passed, so the
// deferred native checkpoints of those barriers take their files first.
//
// Rows: kValue (the whole value is known), kAbsent (known not to exist: a deletion or a miss),
// kOperands (list appends whose base only RocksDB knows; written as merge operands, and read by
// waiting for the writer and appending them to RocksDB's value). A list append is concatenation
// (the backend's merge operator), so the cache applies it to a known value itself.
#pragma once

#include <absl/container/node_hash_map.h>
#include <rocksdb/db.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "weir/status.h"

namespace weir {

class RocksDbSharedMemory;

// The write-back cache's writer wake-up: its lock and condition, shared with the batches handed
// over at barriers so that whoever waits for one can wake the writer, even after the cache is
// gone.
struct WriteBackSignal {
  std::mutex mu;
  std::condition_variable cv;
  // A batch was queued without waking the writer (a barrier's hand-over).
  std::atomic<bool> wake_pending{false};
  void Wake() {
    if (wake_pending.exchange(false)) cv.notify_all();
  }
};

// A batch handed to the writer at a barrier, as its waiters see it.
class HandedOverBatch {
 public:
  HandedOverBatch() = default;  // nothing handed over: Wait() is OK
  // A batch already written, with `status`: for a backend without a write-back cache.
  static HandedOverBatch Done(Status status);
  // The status of the batch's writes and its barrier step (Aborted when the cache closed first).
  // Wakes the writer first: the hand-over left it asleep (WriteBackCache::WakeWriter).
  Status Wait() const;
  // Whether the batch and its barrier step are done (without waiting or waking the writer).
  bool Done() const;

 private:
  friend class WriteBackCache;
  std::shared_future<Status> done_;
  std::shared_ptr<WriteBackSignal> signal_;  // null: nothing to wake
};

// How the writer may bring a large batch into RocksDB without the memtable: sorted into one SST
// file per column family (rocksdb::SstFileWriter) and ingested (IngestExternalFiles, moving the
// files). A batch that large is a checkpoint's dirty rows, which the barrier's memtable switch
// would flush at once anyway: ingesting them skips the memtable inserts and the flush.
struct WriteBackIngestion {
  std::string dir;  // where the files are built (removed and made again by the cache); empty: off
  size_t min_rows = 1;  // a column family's fewer rows of a batch go through the memtable
  // A column family with this many L0 files takes the batch through the memtable, whose writes
  // RocksDB slows and stops until compactions catch up (ingestion does not wait for them).
  int level0_limit = 20;
  // Called before each ingestion: a deferred native checkpoint whose barrier passed must take
  // its files first, since an ingested file holds writes made after that barrier.
  std::function<void()> before_ingest;
};

// The memory the write-back caches sharing it may hold together, split evenly among them.
class WriteBackCacheBudget {
 public:
  explicit WriteBackCacheBudget(uint64_t capacity) : capacity_(capacity) {}
  uint64_t capacity() const { return capacity_; }
  // What one of the caches sharing the budget may hold now.
  uint64_t PerCache() const {
    const int n = caches_.load(std::memory_order_relaxed);
    return capacity_ / static_cast<uint64_t>(n > 0 ? n : 1);
  }
  void Join() { caches_.fetch_add(1); }
  void Leave() { caches_.fetch_sub(1); }

 private:
  const uint64_t capacity_;
  std::atomic<int> caches_{0};
};

class WriteBackCache {
 public:
  // `db` outlives the cache. The writer thread starts here.
  // `memory`: the budget `db`'s memtables are charged to (null: none); the writer keeps them
  // within it after each write.
  WriteBackCache(rocksdb::DB* db, std::shared_ptr<WriteBackCacheBudget> budget,
                 std::shared_ptr<RocksDbSharedMemory> memory = nullptr,
                 WriteBackIngestion ingestion = {});
  // Stops the writer. Rows not written yet are dropped: the backend is closing.
  ~WriteBackCache();
  WriteBackCache(const WriteBackCache&) = delete;
  WriteBackCache& operator=(const WriteBackCache&) = delete;

  // --- the owner's thread. `key` is a cache key: two bytes naming the table, then the row key
  // RocksDB stores (the column family `cf`'s).
  Result<std::optional<std::string>> Get(rocksdb::ColumnFamilyHandle* cf, const std::string& key);
  Status Put(rocksdb::ColumnFamilyHandle* cf, const std::string& key, std::string_view value);
  Status Delete(rocksdb::ColumnFamilyHandle* cf, const std::string& key);
  // Appends `operand` to the row's value (a list append).
  Status Merge(rocksdb::ColumnFamilyHandle* cf, const std::string& key, std::string_view operand);
  // Until it returns, RocksDB holds every row: waits until the writer is idle, then writes the
  // dirty rows on this thread. Cheap when nothing is dirty or in flight.
  Status Drain();
  // Until it returns, RocksDB holds every row of `cf` (an iteration over it may follow): drains
  // only when a row of `cf` may not be written yet.
  Status Drain(rocksdb::ColumnFamilyHandle* cf);
  // The checkpoint's synchronous part: hands every dirty row to the writer, which writes them and
  // then runs `at_barrier`, before anything written after this call. It does not wake the writer:
  // on a machine whose cores are all busy, the woken writer took the task's core for 1.5-10 ms of
  // the pause. WakeWriter (once the barrier is forwarded), any wait for the batch or an
  // eviction's batch wakes it; in any case an idle writer looks at its queue every 100 ms.
  HandedOverBatch FreezeForBarrier(std::function<Status()> at_barrier);
  // Wakes the writer for the batches FreezeForBarrier handed over. Any thread.
  void WakeWriter() { signal_->Wake(); }

  // Sizes the index for `rows` rows (a replay's), at most as many as the memory limit holds:
  // grown row by row instead, it would be rebuilt a dozen times, each time reading every row.
  void Reserve(uint64_t rows);

  // --- any thread: figures for tests and metrics.
  uint64_t bytes() const { return charged_.load(std::memory_order_relaxed); }
  uint64_t rows() const { return rows_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return budget_->PerCache(); }
  uint64_t ingested_batches() const { return ingested_.load(std::memory_order_relaxed); }

 private:
  enum class RowState : uint8_t { kValue, kAbsent, kOperands };
  // A row holds two versions: the one of the batch being filled (the current one) and the one
  // of the batch before it, which the writer may be reading. Batch s uses slot s % 2, so handing
  // a batch over changes nothing in its rows (the pause at a barrier does not grow with them);
  // the task only has to leave a slot alone while a batch using it is in flight.
  struct Slot {
    std::string value;  // kValue: the value; kOperands: appends not in an earlier batch
    RowState state = RowState::kAbsent;
  };
  struct Entry {
    Slot slots[2];
    rocksdb::ColumnFamilyHandle* cf = nullptr;
    const std::string* key = nullptr;  // the map's own copy
    // The eviction order (second chance, an approximation of least recently used): rows enter
    // at the warm end; an access only marks the row used, and the eviction scan moves a used row
    // back to the warm end instead of evicting it. Moving the row at every access, as a strict
    // LRU list does, wrote to two other rows' random cache lines per access: 4-7% of
    // keyed-aggregate's throughput.
    Entry* older = nullptr;
    Entry* newer = nullptr;
    bool used = false;
    // The last batch this row was (or is being) put in; 0: never dirty. Its slot is current.
    uint64_t dirty_seq = 0;
    uint64_t charge = 0;
    Slot& current() { return slots[dirty_seq & 1]; }
  };
  struct Batch;
  struct SortedRow;

  Entry* Find(const std::string& key);
  // The row of `key`, made in `state` with `value` unless the cache has it (`existed`): one
  // lookup either way.
  Entry* Insert(rocksdb::ColumnFamilyHandle* cf, const std::string& key, RowState state,
                std::string_view value, bool* existed = nullptr);
  // The slot the open batch writes, made current (and the row dirty); waits when the slot's
  // previous batch is still in flight.
  Result<Slot*> OpenSlot(Entry* e, bool keep_value);
  // Marks the row used: the eviction scan gives it a second chance.
  void Touch(Entry* e) { e->used = true; }
  void MoveToWarmEnd(Entry* e);
  void Recharge(Entry* e);
  void Unlink(Entry* e);
  void Erase(Entry* e);
  uint64_t open_seq() const { return frozen_seq_ + 1; }
  Status MakeRoom();
  std::shared_ptr<Batch> Freeze();
  // `wake`: wake the writer now (otherwise it is left to WakeWriter or a waiter).
  void Enqueue(std::shared_ptr<Batch> batch, bool wake = true);
  Status WaitWritten(uint64_t seq);
  Status Failed() const;
  // `may_ingest`: the writer's thread (WriteBackIngestion; never the task's, which Drain lends).
  Status WriteRows(const Batch& batch, bool may_ingest);
  Status InsertRows(const std::vector<SortedRow>& rows, size_t slot) const;
  // Ingests the rows of each column family that has enough of them and whose file would land in
  // L0 (IngestsIntoLevel0); inserts the others.
  Status IngestOrInsertRows(const std::vector<SortedRow>& rows, const Batch& batch);
  bool IngestsIntoLevel0(rocksdb::ColumnFamilyHandle* cf, const rocksdb::Slice& smallest,
                         const rocksdb::Slice& largest) const;
  void WriterLoop();

  rocksdb::DB* db_;
  std::shared_ptr<WriteBackCacheBudget> budget_;
  std::shared_ptr<RocksDbSharedMemory> memory_;
  const WriteBackIngestion ingestion_;
  bool ingestion_dir_made_ = false;  // the writer's
  std::atomic<uint64_t> ingested_{0};
  // Abseil's node map: rows stay where they are as it grows (the eviction order, the dirty list and
  // the batches point at them), and a lookup costs about half of std::unordered_map's, whose
  // bucket points at the node before the row's (a cache miss more per lookup).
  absl::node_hash_map<std::string, Entry> entries_;
  Entry* oldest_ = nullptr;
  Entry* newest_ = nullptr;
  std::vector<Entry*> dirty_;  // the rows of the open batch
  // By column family ID: the last batch one of its rows was put in (0: none).
  std::vector<uint64_t> last_dirty_seq_;
  uint64_t entry_bytes_ = 0;
  uint64_t frozen_seq_ = 0;           // the last batch handed over
  std::atomic<uint64_t> charged_{0};  // entry_bytes_, for bytes()
  std::atomic<uint64_t> rows_{0};

  // Shared with the writer. signal_->mu guards what follows.
  const std::shared_ptr<WriteBackSignal> signal_ = std::make_shared<WriteBackSignal>();
  std::deque<std::shared_ptr<Batch>> queue_;  // the front is being written
  std::atomic<uint64_t> written_seq_{0};
  std::atomic<bool> failed_{false};
  Status error_;
  bool stop_ = false;
  std::thread writer_;
};

}  // namespace weir
