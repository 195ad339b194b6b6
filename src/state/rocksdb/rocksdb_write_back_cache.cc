#include "state/rocksdb/rocksdb_write_back_cache.h"

#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>

#include "common/thread_name.h"
#include "state/rocksdb/rocksdb_db.h"
#include "state/rocksdb/rocksdb_shared_memory.h"

namespace weir {
namespace {

// What an entry costs besides its key's and values' heap bytes: the map's node (its key's and
// the entry's inline parts: 160 bytes) and its slot (a pointer and a control byte, at the map's
// highest load of 7/8), rounded up.
constexpr uint64_t kEntryOverhead = 176;
// Rows per RocksDB write: large enough to amortize a write's fixed cost, small enough that the
// writer never holds a memtable switch back for long.
constexpr size_t kRowsPerWrite = 4096;
// How often an idle writer looks at its queue without being woken.
constexpr std::chrono::milliseconds kWriterBackstop{100};
// How far MakeRoom looks from the cold end for rows it may drop, per call: rows still dirty or
// in flight are skipped, so a call stays cheap whatever the cache holds.
constexpr int kEvictionScan = 64;

uint64_t HeapBytes(const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 : 0; }

rocksdb::Slice RocksKey(const std::string& key) {
  return rocksdb::Slice(key.data() + 2, key.size() - 2);
}

const rocksdb::ReadOptions& CacheReadOptions() {
  static const rocksdb::ReadOptions options;
  return options;
}

}  // namespace

struct WriteBackCache::Batch {
  uint64_t seq = 0;
  std::vector<Entry*> rows;  // each writes its slot seq % 2; none leaves the cache until written
  std::function<Status()> at_barrier;
  std::promise<Status> done;
};

WriteBackCache::WriteBackCache(rocksdb::DB* db, std::shared_ptr<WriteBackCacheBudget> budget,
                               std::shared_ptr<RocksDbSharedMemory> memory)
    : db_(db), budget_(std::move(budget)), memory_(std::move(memory)) {
  budget_->Join();
  writer_ = std::thread([this] { WriterLoop(); });
}

WriteBackCache::~WriteBackCache() {
  {
    std::lock_guard<std::mutex> lock(signal_->mu);
    stop_ = true;
  }
  signal_->cv.notify_all();
  writer_.join();
  for (auto& batch : queue_) {
    batch->done.set_value(Status::Aborted("the state backend closed before its rows were written"));
  }
  budget_->Leave();
}

Status WriteBackCache::Failed() const {
  std::lock_guard<std::mutex> lock(signal_->mu);
  return error_;
}

WriteBackCache::Entry* WriteBackCache::Find(const std::string& key) {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

WriteBackCache::Entry* WriteBackCache::Insert(rocksdb::ColumnFamilyHandle* cf,
                                              const std::string& key, RowState state,
                                              std::string_view value) {
  auto [it, inserted] = entries_.try_emplace(key);
  Entry* e = &it->second;
  e->cf = cf;
  e->key = &it->first;
  e->slots[0].state = state;
  e->slots[0].value.assign(value);
  e->older = newest_;
  if (newest_ != nullptr) newest_->newer = e;
  newest_ = e;
  if (oldest_ == nullptr) oldest_ = e;
  Recharge(e);
  rows_.store(entries_.size(), std::memory_order_relaxed);
  return e;
}

void WriteBackCache::Recharge(Entry* e) {
  const uint64_t charge = kEntryOverhead + HeapBytes(*e->key) + HeapBytes(e->slots[0].value) +
                          HeapBytes(e->slots[1].value);
  entry_bytes_ = entry_bytes_ - e->charge + charge;
  e->charge = charge;
}

Result<WriteBackCache::Slot*> WriteBackCache::OpenSlot(Entry* e, bool keep_value) {
  const uint64_t open = open_seq();
  if (e->dirty_seq == open) return &e->current();
  // The open slot was last written for batch open - 2 at the latest: it is free once that one is.
  if (open > 2 && written_seq_.load(std::memory_order_acquire) < open - 2) {
    WEIR_RETURN_IF_ERROR(WaitWritten(open - 2));
  }
  Slot& from = e->current();
  Slot& to = e->slots[open & 1];
  if (&from != &to) {
    const bool from_in_flight = e->dirty_seq > written_seq_.load(std::memory_order_acquire);
    to.state = from.state;
    if (!keep_value) {
      to.value.clear();
    } else if (from_in_flight) {
      to.value.assign(from.value);  // the writer reads `from`
    } else {
      to.value.swap(from.value);
    }
  }
  // Appends an earlier batch carries are not this batch's: it starts without them.
  if (to.state == RowState::kOperands) to.value.clear();
  e->dirty_seq = open;
  dirty_.push_back(e);
  const uint32_t cf = e->cf->GetID();
  if (cf >= last_dirty_seq_.size()) last_dirty_seq_.resize(cf + 1, 0);
  last_dirty_seq_[cf] = open;
  return &to;
}

void WriteBackCache::Unlink(Entry* e) {
  (e->older != nullptr ? e->older->newer : oldest_) = e->newer;
  (e->newer != nullptr ? e->newer->older : newest_) = e->older;
  e->older = e->newer = nullptr;
}

void WriteBackCache::Touch(Entry* e) {
  if (newest_ == e) return;
  Unlink(e);
  e->older = newest_;
  newest_->newer = e;
  newest_ = e;
}

void WriteBackCache::Erase(Entry* e) {
  Unlink(e);
  entry_bytes_ -= e->charge;
  entries_.erase(entries_.find(*e->key));  // by iterator: the key lives in the node erased
  rows_.store(entries_.size(), std::memory_order_relaxed);
}

Result<std::optional<std::string>> WriteBackCache::Get(rocksdb::ColumnFamilyHandle* cf,
                                                       const std::string& key) {
  if (failed_.load(std::memory_order_relaxed)) return Failed();
  Entry* e = Find(key);
  if (e != nullptr && e->current().state != RowState::kOperands) {
    Touch(e);
    const Slot& slot = e->current();
    if (slot.state == RowState::kAbsent) return std::optional<std::string>();
    return std::optional<std::string>(slot.value);
  }
  // A miss, or appends whose base only RocksDB has (once every batch in flight is written).
  if (e != nullptr) WEIR_RETURN_IF_ERROR(WaitWritten(frozen_seq_));
  std::string stored;
  const rocksdb::Status s = db_->Get(CacheReadOptions(), cf, RocksKey(key), &stored);
  if (!s.ok() && !s.IsNotFound()) return FromRocksDb(s, "read through the write-back cache");
  bool exists = s.ok();
  if (e == nullptr) {
    e = Insert(cf, key, exists ? RowState::kValue : RowState::kAbsent, stored);
  } else {
    // The current slot is written (nothing is in flight); if it is the open batch's, its appends
    // follow RocksDB's value, else RocksDB holds them already.
    Slot& slot = e->current();
    if (e->dirty_seq == open_seq()) {
      stored.append(slot.value);
      exists = true;
    }
    slot.state = exists ? RowState::kValue : RowState::kAbsent;
    slot.value.swap(stored);
    if (!exists) slot.value.clear();
    Recharge(e);
    Touch(e);
  }
  std::optional<std::string> out;
  if (exists) out = e->current().value;
  WEIR_RETURN_IF_ERROR(MakeRoom());
  return out;
}

Status WriteBackCache::Put(rocksdb::ColumnFamilyHandle* cf, const std::string& key,
                           std::string_view value) {
  if (failed_.load(std::memory_order_relaxed)) return Failed();
  Entry* e = Find(key);
  if (e == nullptr) e = Insert(cf, key, RowState::kAbsent, {});
  WEIR_ASSIGN_OR_RETURN(Slot * slot, OpenSlot(e, /*keep_value=*/false));
  slot->state = RowState::kValue;
  slot->value.assign(value);
  Recharge(e);
  Touch(e);
  return MakeRoom();
}

Status WriteBackCache::Delete(rocksdb::ColumnFamilyHandle* cf, const std::string& key) {
  if (failed_.load(std::memory_order_relaxed)) return Failed();
  Entry* e = Find(key);
  if (e == nullptr) {
    e = Insert(cf, key, RowState::kValue, {});  // unknown: the deletion must reach RocksDB
  } else if (e->current().state == RowState::kAbsent) {
    Touch(e);
    return Status::OK();  // dirty already, or RocksDB agrees
  }
  WEIR_ASSIGN_OR_RETURN(Slot * slot, OpenSlot(e, /*keep_value=*/false));
  slot->state = RowState::kAbsent;
  slot->value.clear();
  Recharge(e);
  Touch(e);
  return MakeRoom();
}

Status WriteBackCache::Merge(rocksdb::ColumnFamilyHandle* cf, const std::string& key,
                             std::string_view operand) {
  if (failed_.load(std::memory_order_relaxed)) return Failed();
  Entry* e = Find(key);
  if (e == nullptr) e = Insert(cf, key, RowState::kOperands, {});
  WEIR_ASSIGN_OR_RETURN(Slot * slot, OpenSlot(e, /*keep_value=*/true));
  if (slot->state == RowState::kAbsent) {
    slot->state = RowState::kValue;
    slot->value.assign(operand);
  } else {
    slot->value.append(operand);
  }
  Recharge(e);
  Touch(e);
  return MakeRoom();
}

Status WriteBackCache::MakeRoom() {
  const uint64_t limit = budget_->PerCache();
  charged_.store(entry_bytes_, std::memory_order_relaxed);
  for (int round = 0; entry_bytes_ > limit; ++round) {
    const uint64_t written = written_seq_.load(std::memory_order_acquire);
    // Dirty rows leave only once RocksDB holds them: hand them to the writer (when it has
    // nothing else to do, so that an over-full cache does not queue a batch per access).
    if (!dirty_.empty() && written == frozen_seq_) Enqueue(Freeze());
    Entry* e = oldest_;
    for (int scanned = 0; e != nullptr && scanned < kEvictionScan; ++scanned) {
      Entry* next = e->newer;
      if (e->dirty_seq <= written) {
        Erase(e);
        if (entry_bytes_ <= limit) break;
      }
      e = next;
    }
    charged_.store(entry_bytes_, std::memory_order_relaxed);
    // Past a quarter over the limit the task waits for the writer: a job cannot write faster
    // than RocksDB takes its rows, only in bursts.
    if (round > 0 || entry_bytes_ <= limit + limit / 4) break;
    WEIR_RETURN_IF_ERROR(WaitWritten(frozen_seq_));
  }
  return Status::OK();
}

std::shared_ptr<WriteBackCache::Batch> WriteBackCache::Freeze() {
  auto batch = std::make_shared<Batch>();
  batch->seq = ++frozen_seq_;
  batch->rows.swap(dirty_);
  dirty_.reserve(batch->rows.size());
  return batch;
}

void WriteBackCache::Enqueue(std::shared_ptr<Batch> batch, bool wake) {
  {
    std::lock_guard<std::mutex> lock(signal_->mu);
    queue_.push_back(std::move(batch));
  }
  // Set after the push: a Wake that sees it finds the batch queued.
  if (!wake) {
    signal_->wake_pending.store(true);
    return;
  }
  signal_->cv.notify_all();
}

HandedOverBatch HandedOverBatch::Done(Status status) {
  std::promise<Status> done;
  done.set_value(std::move(status));
  HandedOverBatch batch;
  batch.done_ = done.get_future().share();
  return batch;
}

Status HandedOverBatch::Wait() const {
  if (signal_) signal_->Wake();
  return done_.valid() ? done_.get() : Status::OK();
}

HandedOverBatch WriteBackCache::FreezeForBarrier(std::function<Status()> at_barrier) {
  if (failed_.load(std::memory_order_relaxed)) return HandedOverBatch::Done(Failed());
  std::shared_ptr<Batch> batch = Freeze();
  batch->at_barrier = std::move(at_barrier);
  HandedOverBatch handed;
  handed.done_ = batch->done.get_future().share();
  handed.signal_ = signal_;
  Enqueue(std::move(batch), /*wake=*/false);
  return handed;
}

Status WriteBackCache::WaitWritten(uint64_t seq) {
  if (written_seq_.load(std::memory_order_acquire) >= seq && !failed_.load()) return Status::OK();
  signal_->Wake();
  std::unique_lock<std::mutex> lock(signal_->mu);
  signal_->cv.wait(lock, [&] { return written_seq_.load() >= seq || failed_.load(); });
  return error_;
}

Status WriteBackCache::Drain() {
  if (failed_.load(std::memory_order_relaxed)) return Failed();
  if (dirty_.empty() && written_seq_.load(std::memory_order_acquire) == frozen_seq_) {
    return Status::OK();
  }
  signal_->Wake();
  std::unique_lock<std::mutex> lock(signal_->mu);
  signal_->cv.wait(lock, [&] { return queue_.empty() || failed_.load(); });
  if (failed_.load()) return error_;
  // The writer takes batches from the queue only, and it is empty: until this thread queues
  // another, it is the only writer.
  std::shared_ptr<Batch> batch = Freeze();
  Status s = WriteRows(*batch);
  if (!s.ok()) {
    error_ = s;
    failed_.store(true);
    signal_->cv.notify_all();
    return s;
  }
  written_seq_.store(batch->seq);
  return Status::OK();
}

Status WriteBackCache::Drain(rocksdb::ColumnFamilyHandle* cf) {
  if (failed_.load(std::memory_order_relaxed)) return Failed();
  const uint32_t id = cf->GetID();
  const uint64_t last = id < last_dirty_seq_.size() ? last_dirty_seq_[id] : 0;
  if (last <= written_seq_.load(std::memory_order_acquire)) return Status::OK();
  return Drain();
}

Status WriteBackCache::WriteRows(const Batch& batch) const {
  // In key order per column family: the memtable inserts them the faster. The order is sorted
  // on each key's first 16 bytes held in place (comparisons that follow a key's pointer miss the
  // CPU's caches), the rest of a key only between rows whose first 16 bytes are equal.
  struct Ordered {
    uint32_t cf;
    uint64_t head[2];
    const Entry* row;
  };
  std::vector<Ordered> order;
  order.reserve(batch.rows.size());
  for (const Entry* row : batch.rows) {
    Ordered o{row->cf->GetID(), {0, 0}, row};
    const rocksdb::Slice key = RocksKey(*row->key);
    for (size_t i = 0; i < 16 && i < key.size(); ++i) {
      o.head[i / 8] |= uint64_t{static_cast<unsigned char>(key[i])} << (56 - 8 * (i % 8));
    }
    order.push_back(o);
  }
  std::sort(order.begin(), order.end(), [](const Ordered& a, const Ordered& b) {
    if (a.cf != b.cf) return a.cf < b.cf;
    if (a.head[0] != b.head[0]) return a.head[0] < b.head[0];
    if (a.head[1] != b.head[1]) return a.head[1] < b.head[1];
    return *a.row->key < *b.row->key;
  });
  rocksdb::WriteBatch write;
  const auto flush = [&]() -> Status {
    if (write.Count() == 0) return Status::OK();
    Status s = FromRocksDb(db_->Write(StateWriteOptions(), &write), "write-back of state rows");
    write.Clear();
    if (s.ok() && memory_) memory_->WaitForMemtableRoom();
    return s;
  };
  for (const Ordered& o : order) {
    const Slot& slot = o.row->slots[batch.seq & 1];
    const rocksdb::Slice key = RocksKey(*o.row->key);
    rocksdb::Status s;
    switch (slot.state) {
      case RowState::kValue:
        s = write.Put(o.row->cf, key, slot.value);
        break;
      case RowState::kAbsent:
        s = write.Delete(o.row->cf, key);
        break;
      case RowState::kOperands:
        if (!slot.value.empty()) s = write.Merge(o.row->cf, key, slot.value);
        break;
    }
    WEIR_RETURN_IF_ERROR(FromRocksDb(s, "write-back of state rows"));
    if (static_cast<size_t>(write.Count()) >= kRowsPerWrite) WEIR_RETURN_IF_ERROR(flush());
  }
  return flush();
}

void WriteBackCache::WriterLoop() {
  SetCurrentThreadName("weir-write-back");
  for (;;) {
    std::shared_ptr<Batch> batch;
    {
      std::unique_lock<std::mutex> lock(signal_->mu);
      // Timed: a batch handed over without a wake-up that nobody wakes it for is written all
      // the same (each such batch has a waiter that wakes it; this is the safety net).
      while (
          !signal_->cv.wait_for(lock, kWriterBackstop, [&] { return stop_ || !queue_.empty(); })) {
      }
      if (stop_) return;
      batch = queue_.front();
    }
    Status written = failed_.load() ? Failed() : WriteRows(*batch);
    // A failed barrier step fails its checkpoint only; a failed write fails the backend.
    Status result = written;
    if (written.ok() && batch->at_barrier) result = batch->at_barrier();
    {
      std::lock_guard<std::mutex> lock(signal_->mu);
      if (!written.ok() && error_.ok()) {
        error_ = written;
        failed_.store(true);
      }
      written_seq_.store(batch->seq);
      queue_.pop_front();
    }
    signal_->cv.notify_all();
    batch->done.set_value(std::move(result));
  }
}

}  // namespace weir
