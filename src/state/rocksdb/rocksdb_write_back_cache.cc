#include "state/rocksdb/rocksdb_write_back_cache.h"

#include <rocksdb/sst_file_writer.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>

#include "common/thread_name.h"
#include "state/rocksdb/rocksdb_db.h"
#include "state/rocksdb/rocksdb_shared_memory.h"

namespace weir {
namespace {

// What an entry costs besides its key's and values' heap bytes: the map's node (its key's and
// the entry's inline parts: 168 bytes) and its slot (a pointer and a control byte, at the map's
// highest load of 7/8), rounded up.
constexpr uint64_t kEntryOverhead = 184;
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
                               std::shared_ptr<RocksDbSharedMemory> memory,
                               WriteBackIngestion ingestion)
    : db_(db),
      budget_(std::move(budget)),
      memory_(std::move(memory)),
      ingestion_(std::move(ingestion)) {
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

void WriteBackCache::Reserve(uint64_t rows) {
  const uint64_t fit = budget_->PerCache() / kEntryOverhead;
  if (rows > 0) entries_.reserve(static_cast<size_t>(std::min(rows, fit)));
}

WriteBackCache::Entry* WriteBackCache::Find(const std::string& key) {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

WriteBackCache::Entry* WriteBackCache::Insert(rocksdb::ColumnFamilyHandle* cf,
                                              const std::string& key, RowState state,
                                              std::string_view value, bool* existed) {
  auto [it, inserted] = entries_.try_emplace(key);
  Entry* e = &it->second;
  if (existed != nullptr) *existed = !inserted;
  if (!inserted) return e;
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

void WriteBackCache::MoveToWarmEnd(Entry* e) {
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
  Entry* e = Insert(cf, key, RowState::kAbsent, {});
  WEIR_ASSIGN_OR_RETURN(Slot * slot, OpenSlot(e, /*keep_value=*/false));
  slot->state = RowState::kValue;
  slot->value.assign(value);
  Recharge(e);
  Touch(e);
  return MakeRoom();
}

Status WriteBackCache::Delete(rocksdb::ColumnFamilyHandle* cf, const std::string& key) {
  if (failed_.load(std::memory_order_relaxed)) return Failed();
  bool existed;
  // Unknown: the deletion must reach RocksDB.
  Entry* e = Insert(cf, key, RowState::kValue, {}, &existed);
  if (existed && e->current().state == RowState::kAbsent) {
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
  Entry* e = Insert(cf, key, RowState::kOperands, {});
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
      if (e->used) {
        // Used since the scan last saw it: a second chance, at the warm end.
        e->used = false;
        MoveToWarmEnd(e);
      } else if (e->dirty_seq <= written) {
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

bool HandedOverBatch::Done() const {
  return !done_.valid() || done_.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
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
  Status s = WriteRows(*batch, /*may_ingest=*/false);
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

// A batch's row in the order the writer writes them.
struct WriteBackCache::SortedRow {
  uint32_t cf;
  uint64_t head[2];  // the key's first 16 bytes, big-endian, zero-padded
  const Entry* row;
};

Status WriteBackCache::WriteRows(const Batch& batch, bool may_ingest) {
  // In key order per column family: the memtable inserts them the faster (and an SST file takes
  // nothing else). The order is sorted on each key's first 16 bytes held in place (comparisons
  // that follow a key's pointer miss the CPU's caches), the rest of a key only between rows
  // whose first 16 bytes are equal: bytewise order, the column families' comparator.
  std::vector<SortedRow> order;
  order.reserve(batch.rows.size());
  for (const Entry* row : batch.rows) {
    SortedRow o{row->cf->GetID(), {0, 0}, row};
    const rocksdb::Slice key = RocksKey(*row->key);
    for (size_t i = 0; i < 16 && i < key.size(); ++i) {
      o.head[i / 8] |= uint64_t{static_cast<unsigned char>(key[i])} << (56 - 8 * (i % 8));
    }
    order.push_back(o);
  }
  std::sort(order.begin(), order.end(), [](const SortedRow& a, const SortedRow& b) {
    if (a.cf != b.cf) return a.cf < b.cf;
    if (a.head[0] != b.head[0]) return a.head[0] < b.head[0];
    if (a.head[1] != b.head[1]) return a.head[1] < b.head[1];
    return *a.row->key < *b.row->key;
  });
  if (may_ingest && !ingestion_.dir.empty() && order.size() >= ingestion_.min_rows) {
    return IngestOrInsertRows(order, batch);
  }
  return InsertRows(order, batch.seq & 1);
}

Status WriteBackCache::InsertRows(const std::vector<SortedRow>& rows, size_t slot) const {
  rocksdb::WriteBatch write;
  const auto flush = [&]() -> Status {
    if (write.Count() == 0) return Status::OK();
    Status s = FromRocksDb(db_->Write(StateWriteOptions(), &write), "write-back of state rows");
    write.Clear();
    if (s.ok() && memory_) memory_->WaitForMemtableRoom();
    return s;
  };
  for (const SortedRow& o : rows) {
    const Slot& version = o.row->slots[slot];
    const rocksdb::Slice key = RocksKey(*o.row->key);
    rocksdb::Status s;
    switch (version.state) {
      case RowState::kValue:
        s = write.Put(o.row->cf, key, version.value);
        break;
      case RowState::kAbsent:
        s = write.Delete(o.row->cf, key);
        break;
      case RowState::kOperands:
        if (!version.value.empty()) s = write.Merge(o.row->cf, key, version.value);
        break;
    }
    WEIR_RETURN_IF_ERROR(FromRocksDb(s, "write-back of state rows"));
    if (static_cast<size_t>(write.Count()) >= kRowsPerWrite) WEIR_RETURN_IF_ERROR(flush());
  }
  return flush();
}

bool WriteBackCache::IngestsIntoLevel0(rocksdb::ColumnFamilyHandle* cf,
                                       const rocksdb::Slice& smallest,
                                       const rocksdb::Slice& largest) const {
  // RocksDB puts an ingested file in the deepest level above the first level that holds a key
  // of its range. Anywhere but L0 it would stay beside the versions it overwrites until a
  // compaction reaches that level, which in a small database is never: into an empty database
  // or one restored to deep levels, the files of successive checkpoints would fill L6, L5, ...
  // one each, every one a stale copy of the state. A file whose range overlaps a file of L0 or
  // L1 goes to L0 unless all its rows fall between two adjacent keys of those levels, which
  // the thousands of rows of ingest-min-rows, spread over the key groups, do not.
  rocksdb::ColumnFamilyMetaData meta;
  db_->GetColumnFamilyMetaData(cf, &meta);
  if (meta.levels.empty()) return false;
  if (meta.levels[0].files.size() >= static_cast<size_t>(ingestion_.level0_limit)) {
    return false;  // RocksDB would slow and stop memtable writes: ingestion would not wait
  }
  for (size_t level = 0; level < 2 && level < meta.levels.size(); ++level) {
    for (const auto& f : meta.levels[level].files) {
      if (largest.compare(f.smallestkey) >= 0 && smallest.compare(f.largestkey) <= 0) return true;
    }
  }
  return false;
}

Status WriteBackCache::IngestOrInsertRows(const std::vector<SortedRow>& rows, const Batch& batch) {
  const size_t slot = batch.seq & 1;
  // Per column family (the rows are sorted by it): enough rows whose file lands in L0 are
  // ingested, the others inserted.
  std::vector<std::pair<size_t, size_t>> ingested;  // [begin, end) of `rows`
  std::vector<SortedRow> inserted;
  for (size_t begin = 0; begin < rows.size();) {
    size_t end = begin + 1;
    while (end < rows.size() && rows[end].cf == rows[begin].cf) ++end;
    if (end - begin >= ingestion_.min_rows &&
        IngestsIntoLevel0(rows[begin].row->cf, RocksKey(*rows[begin].row->key),
                          RocksKey(*rows[end - 1].row->key))) {
      ingested.emplace_back(begin, end);
    } else {
      inserted.insert(inserted.end(), rows.begin() + begin, rows.begin() + end);
    }
    begin = end;
  }
  if (!inserted.empty()) WEIR_RETURN_IF_ERROR(InsertRows(inserted, slot));
  if (ingested.empty()) return Status::OK();

  const std::string what = "write-back of state rows into " + ingestion_.dir;
  if (!ingestion_dir_made_) {
    WEIR_RETURN_IF_ERROR(DeleteLocalDirectory(ingestion_.dir));  // a failed batch's files
    WEIR_RETURN_IF_ERROR(NewPosixFileSystem()->CreateDirs(ingestion_.dir));
    ingestion_dir_made_ = true;
  }
  std::vector<rocksdb::IngestExternalFileArg> files;
  Status status;
  for (const auto& [begin, end] : ingested) {
    const auto appends_nothing = [&](const SortedRow& o) {
      return o.row->slots[slot].state == RowState::kOperands && o.row->slots[slot].value.empty();
    };
    // RocksDB refuses an empty file.
    if (std::all_of(rows.begin() + begin, rows.begin() + end, appends_nothing)) continue;
    rocksdb::ColumnFamilyHandle* cf = rows[begin].row->cf;
    rocksdb::IngestExternalFileArg file;
    file.column_family = cf;
    file.external_files.push_back(ingestion_.dir + "/" + std::to_string(batch.seq) + "-" +
                                  std::to_string(rows[begin].cf) + ".sst");
    // Linked into the database, not copied; the global sequence number lives in the MANIFEST
    // only (the file is not rewritten).
    file.options.move_files = true;
    file.options.write_global_seqno = false;
    // The column family's table options and compression; the page cache keeps the file, which
    // the checkpoint uploads and compactions read next.
    rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), db_->GetOptions(cf), cf,
                                  /*invalidate_page_cache=*/false);
    status = FromRocksDb(writer.Open(file.external_files.front()), what);
    for (size_t i = begin; i < end && status.ok(); ++i) {
      if (appends_nothing(rows[i])) continue;
      const Slot& version = rows[i].row->slots[slot];
      const rocksdb::Slice key = RocksKey(*rows[i].row->key);
      switch (version.state) {
        case RowState::kValue:
          status = FromRocksDb(writer.Put(key, version.value), what);
          break;
        case RowState::kAbsent:
          status = FromRocksDb(writer.Delete(key), what);
          break;
        case RowState::kOperands:
          status = FromRocksDb(writer.Merge(key, version.value), what);
          break;
      }
    }
    if (!status.ok()) break;
    status = FromRocksDb(writer.Finish(), what);
    if (!status.ok()) break;
    files.push_back(std::move(file));
  }
  if (status.ok() && !files.empty()) {
    if (ingestion_.before_ingest) ingestion_.before_ingest();
    // All column families or none (IngestExternalFiles is atomic across them).
    status = FromRocksDb(db_->IngestExternalFiles(files), what);
  }
  if (!status.ok()) {
    (void)DeleteLocalDirectory(ingestion_.dir);  // what was not moved into the database
    ingestion_dir_made_ = false;
    return status;
  }
  if (!files.empty()) ingested_.fetch_add(1, std::memory_order_relaxed);
  return Status::OK();
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
    Status written = failed_.load() ? Failed() : WriteRows(*batch, /*may_ingest=*/true);
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
