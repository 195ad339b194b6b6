// Native checkpoints of the RocksDB backend: at once (flush, then hard links), or in two halves
// so that the flush leaves the synchronous part.
//
// Why the two halves are consistent: one thread writes RocksDB (the owner's, or the write-back
// cache's writer, which writes the rows handed to it in order and runs the begin's switch right
// after the rows dirty at the barrier), so at the switch every write up to sequence number S (the
// latest) is before the barrier and every later one after it. The switch seals each column family's
// memtable without waiting (writes after it go to a fresh memtable), and holds a RocksDB snapshot
// at S so that no compaction can hide a later write's sequence number. Finish waits until no column
// family has an immutable memtable left, then takes the database's files as they are. Compactions
// in between only rewrite data up to S. Only a later memtable that filled up and was flushed during
// the wait can bring writes after S into an SST: Finish checks every file's largest sequence number
// and refuses the checkpoint if one exceeds S.
#include <rocksdb/metadata.h>
#include <rocksdb/utilities/checkpoint.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "state/rocksdb/rocksdb_db.h"
#include "state/rocksdb/rocksdb_write_back_cache.h"

namespace weir {

Status LinkNativeCheckpoint(rocksdb::DB* db, const std::string& dir, bool flush) {
  rocksdb::Checkpoint* raw = nullptr;
  WEIR_RETURN_IF_ERROR(FromRocksDb(rocksdb::Checkpoint::Create(db, &raw), "native checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush: 0 always flushes (with the WAL off the memtables hold the only copy of
  // recent writes); the maximum never does.
  const uint64_t log_size_for_flush = flush ? 0 : std::numeric_limits<uint64_t>::max();
  return FromRocksDb(checkpoint->CreateCheckpoint(dir, log_size_for_flush),
                     "native checkpoint into " + dir);
}

Result<std::vector<LocalFile>> ListLocalFiles(const std::string& dir) {
  std::vector<LocalFile> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    files.push_back({entry.path().filename().string(), entry.file_size()});
  }
  if (ec) return Status::IOError(dir + ": cannot list native checkpoint: " + ec.message());
  std::sort(files.begin(), files.end(),
            [](const LocalFile& a, const LocalFile& b) { return a.name < b.name; });
  return files;
}

Result<std::vector<LocalFile>> RocksDbKeyedStateBackend::CreateNativeCheckpoint(
    const std::string& dir) {
  WEIR_RETURN_IF_ERROR(db_->WaitForDropCompaction());
  WEIR_RETURN_IF_ERROR(DrainWriteBackCache());
  WEIR_RETURN_IF_ERROR(LinkNativeCheckpoint(db_->db, dir, /*flush=*/true));
  return ListLocalFiles(dir);
}

namespace {

// A flush or compaction failed: RocksDB will not make progress on its own.
bool HasBackgroundErrors(rocksdb::DB* db) {
  uint64_t errors = 0;
  return db->GetIntProperty(rocksdb::DB::Properties::kBackgroundErrors, &errors) && errors > 0;
}

// Taken at once in the begin; Finish only lists it.
class ImmediateNativeCheckpoint final : public NativeCheckpoint {
 public:
  explicit ImmediateNativeCheckpoint(std::string dir) : dir_(std::move(dir)) {}
  Result<std::vector<LocalFile>> Finish() override { return ListLocalFiles(dir_); }

 private:
  std::string dir_;
};

// The barrier of a deferred native checkpoint: the snapshot at the memtable switch, taken by
// the thread that writes RocksDB (SwitchMemtables).
struct NativeBarrier {
  std::shared_ptr<RocksDbKeyedStateBackend::Db> db;
  const rocksdb::Snapshot* snapshot = nullptr;  // set before `switched` is ready
  ~NativeBarrier() {
    if (snapshot != nullptr) db->db->ReleaseSnapshot(snapshot);
  }
};

// Switches the memtables of `families` that hold writes without waiting for their flush, then
// takes the barrier's snapshot.
Status SwitchMemtables(NativeBarrier& barrier,
                       const std::vector<rocksdb::ColumnFamilyHandle*>& families,
                       const std::string& dir) {
  rocksdb::DB* db = barrier.db->db;
  rocksdb::FlushOptions flush;
  flush.wait = false;
  // Never wait for the flush: a write that would stall waits instead, as any write would.
  flush.allow_write_stall = true;
  if (!families.empty()) {
    rocksdb::Status s = db->Flush(flush, families);
    // RocksDB refuses a flush that does not wait while it has stopped writes (too many memtables
    // or L0 files). The next write would wait for them to resume anyway, and this thread is the
    // only writer: wait here until the switch is accepted, then go on without waiting for the
    // flush. (A flush that waits, instead, would also wait for this checkpoint's own memtable
    // to be flushed: the task's pause grew to more than a second at full size.)
    auto pause = std::chrono::microseconds(50);
    while (s.IsTryAgain()) {
      if (HasBackgroundErrors(db)) {
        return Status::IOError("native checkpoint into " + dir +
                               ": RocksDB stopped writes and a background job failed");
      }
      std::this_thread::sleep_for(pause);
      pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(2));
      s = db->Flush(flush, families);
    }
    WEIR_RETURN_IF_ERROR(FromRocksDb(s, "switch memtables for a checkpoint"));
  }
  barrier.snapshot = db->GetSnapshot();
  return Status::OK();
}

class DeferredNativeCheckpoint final : public NativeCheckpoint {
 public:
  DeferredNativeCheckpoint(std::shared_ptr<RocksDbKeyedStateBackend::Db> db, std::string dir,
                           std::vector<rocksdb::ColumnFamilyHandle*> families,
                           std::shared_ptr<NativeBarrier> barrier, HandedOverBatch switched,
                           NativeCheckpointOptions options)
      : db_(std::move(db)),
        dir_(std::move(dir)),
        families_(std::move(families)),
        barrier_(std::move(barrier)),
        switched_(std::move(switched)),
        options_(std::move(options)) {}

  // Once; later calls return the first call's result.
  Result<std::vector<LocalFile>> Finish() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!result_) result_ = Capture();
    return *result_;
  }

 private:
  Result<std::vector<LocalFile>> Capture() {
    // The write-back cache's writer switches the memtables once it wrote the barrier's rows.
    WEIR_RETURN_IF_ERROR(switched_.Wait());
    WEIR_RETURN_IF_ERROR(WaitForFlushes());
    if (options_.merge_level0) {
      for (auto* cf : families_) MergeLevel0(cf);
    }
    std::map<uint64_t, uint64_t> largest_seqno;  // file number -> largest sequence number
    RecordSeqnos(&largest_seqno);
    WEIR_RETURN_IF_ERROR(CheckNoLaterWrites(largest_seqno));
    WEIR_RETURN_IF_ERROR(LinkNativeCheckpoint(db_->db, dir_, /*flush=*/false));
    RecordSeqnos(&largest_seqno);  // files a compaction created while the links were made
    WEIR_ASSIGN_OR_RETURN(std::vector<LocalFile> files, ListLocalFiles(dir_));
    for (const auto& f : files) {
      if (f.name.size() < 4 || f.name.compare(f.name.size() - 4, 4, ".sst") != 0) continue;
      if (largest_seqno.count(std::strtoull(f.name.c_str(), nullptr, 10)) == 0) {
        return Refuse("SST " + f.name + " appeared and disappeared while it was linked");
      }
    }
    WEIR_RETURN_IF_ERROR(CheckNoLaterWrites(largest_seqno, &files));
    return files;
  }

  uint64_t barrier_seqno() const { return barrier_->snapshot->GetSequenceNumber(); }

  Status WaitForFlushes() {
    // The flush of one interval's writes takes from well under a millisecond to seconds: poll
    // often at first, then every millisecond.
    auto pause = std::chrono::microseconds(20);
    for (;;) {
      uint64_t pending = 0;
      for (auto* cf : families_) {
        uint64_t n = 0;
        if (db_->db->GetIntProperty(cf, rocksdb::DB::Properties::kNumImmutableMemTable, &n)) {
          pending += n;
        }
      }
      if (pending == 0) return Status::OK();
      if (HasBackgroundErrors(db_->db)) {
        return Status::IOError("native checkpoint into " + dir_ +
                               ": a background flush failed while the checkpoint waited for it");
      }
      std::this_thread::sleep_for(pause);
      pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(1));
    }
  }

  // NativeCheckpointOptions::merge_level0. Best effort: a merge that RocksDB refuses (its own
  // compaction holds one of the files) leaves the files as they are. The merge writes only rows
  // of files that hold writes up to the barrier, and the barrier's snapshot keeps each row's
  // value as of the barrier.
  void MergeLevel0(rocksdb::ColumnFamilyHandle* cf) {
    if (db_->cf_options.compaction_style != rocksdb::kCompactionStyleLevel) return;
    rocksdb::ColumnFamilyMetaData meta;
    db_->db->GetColumnFamilyMetaData(cf, &meta);
    if (meta.levels.size() < 2 || meta.levels[0].files.empty()) return;
    auto new_since_upload = [&](const rocksdb::SstFileMetaData& f) {
      return !f.being_compacted && options_.uploaded.count(f.relative_filename) == 0;
    };
    uint64_t level0_bytes = 0;
    uint64_t level1_bytes = 0;
    std::vector<std::string> inputs;
    for (const auto& f : meta.levels[0].files) {
      // A file flushed after the barrier: Capture refuses the checkpoint whatever happens here.
      if (f.largest_seqno > barrier_seqno() || !new_since_upload(f)) return;
      level0_bytes += f.size;
      inputs.push_back(f.relative_filename);
    }
    for (const auto& f : meta.levels[1].files) {
      if (!new_since_upload(f)) return;
      level1_bytes += f.size;
    }
    if (level0_bytes * 10 < level1_bytes) return;
    rocksdb::CompactionOptions merge;
    merge.compression = rocksdb::kDisableCompressionOption;  // the column family's
    merge.output_file_size_limit = db_->cf_options.target_file_size_base;
    (void)db_->db->CompactFiles(merge, cf, inputs, /*output_level=*/1);
  }

  void RecordSeqnos(std::map<uint64_t, uint64_t>* out) const {
    std::vector<rocksdb::LiveFileMetaData> live;
    db_->db->GetLiveFilesMetaData(&live);
    for (const auto& f : live) (*out)[f.file_number] = f.largest_seqno;
  }

  // Every SST (of `files`, or of the database) holds only writes up to the barrier.
  Status CheckNoLaterWrites(const std::map<uint64_t, uint64_t>& largest_seqno,
                            const std::vector<LocalFile>* files = nullptr) {
    for (const auto& entry : largest_seqno) {
      const uint64_t number = entry.first;  // a plain variable: clang 14 cannot capture a binding
      const uint64_t seqno = entry.second;
      if (seqno <= barrier_seqno()) continue;
      if (files != nullptr && std::none_of(files->begin(), files->end(), [&](const LocalFile& f) {
            return std::strtoull(f.name.c_str(), nullptr, 10) == number;
          })) {
        continue;
      }
      return Refuse("SST " + std::to_string(number) + " holds writes up to sequence number " +
                    std::to_string(seqno) + ", after the checkpoint's " +
                    std::to_string(barrier_seqno()));
    }
    return Status::OK();
  }

  Status Refuse(const std::string& why) {
    db_->flush_synchronously_next.store(true);
    return Status::FailedPrecondition(
        "native checkpoint into " + dir_ + ": writes made after the checkpoint reached an SST " +
        "file before the deferred flush ended (" + why +
        "); the next checkpoint of this backend flushes in its synchronous part");
  }

  std::shared_ptr<RocksDbKeyedStateBackend::Db> db_;
  std::string dir_;
  std::vector<rocksdb::ColumnFamilyHandle*> families_;
  std::shared_ptr<NativeBarrier> barrier_;
  HandedOverBatch switched_;
  const NativeCheckpointOptions options_;
  std::mutex mu_;
  std::optional<Result<std::vector<LocalFile>>> result_;
};

// The handle the snapshot strategy holds; the backend keeps a weak reference to finish it first
// when another checkpoint begins before this one finished.
class SharedNativeCheckpoint final : public NativeCheckpoint {
 public:
  explicit SharedNativeCheckpoint(std::shared_ptr<NativeCheckpoint> c) : c_(std::move(c)) {}
  Result<std::vector<LocalFile>> Finish() override { return c_->Finish(); }

 private:
  std::shared_ptr<NativeCheckpoint> c_;
};

}  // namespace

void RocksDbKeyedStateBackend::Db::FinishSwitchedCheckpoints() {
  std::vector<std::shared_ptr<NativeCheckpoint>> switched;
  {
    std::lock_guard<std::mutex> lock(unfinished_mu);
    std::erase_if(unfinished, [](const Unfinished& u) { return u.checkpoint.expired(); });
    for (auto& u : unfinished) {
      // One whose switch is still queued behind the rows being written holds them: not yet.
      if (!u.switched.Done()) continue;
      if (auto c = u.checkpoint.lock()) switched.push_back(std::move(c));
    }
  }
  for (const auto& c : switched) (void)c->Finish();  // its owner sees the result
}

Result<std::unique_ptr<NativeCheckpoint>> RocksDbKeyedStateBackend::BeginNativeCheckpoint(
    const std::string& dir, NativeCheckpointOptions options) {
  // The compaction of a rescaled restore's dropped key groups must end before the barrier: it
  // may rewrite L0 files flushed since the restore, and done after the barrier it would carry
  // later writes into the checkpoint's files. It usually ended long before the first checkpoint;
  // if not, this first one pauses the task until it has.
  WEIR_RETURN_IF_ERROR(db_->WaitForDropCompaction());
  const bool synchronous =
      !options_.tuning.async_flush || db_->flush_synchronously_next.exchange(false);
  if (synchronous) {
    WEIR_RETURN_IF_ERROR(DrainWriteBackCache());
    WEIR_RETURN_IF_ERROR(LinkNativeCheckpoint(db_->db, dir, /*flush=*/true));
    return std::unique_ptr<NativeCheckpoint>(new ImmediateNativeCheckpoint(dir));
  }
  // A checkpoint begun earlier and not finished yet must be taken before this begin switches
  // the memtables again: its flush would otherwise take in writes made after it (only when
  // checkpoints overlap: max-concurrent-checkpoints > 1, or the final checkpoint at the end of
  // the input). With a write-back cache its writer waits for them, not the task.
  std::vector<std::shared_ptr<NativeCheckpoint>> earlier;
  {
    std::lock_guard<std::mutex> lock(db_->unfinished_mu);
    std::erase_if(db_->unfinished, [](const Db::Unfinished& u) { return u.checkpoint.expired(); });
    for (auto& u : db_->unfinished) {
      if (auto c = u.checkpoint.lock()) earlier.push_back(std::move(c));
    }
  }
  std::vector<rocksdb::ColumnFamilyHandle*> families;
  for (const auto& [name, cf] : db_->column_families) families.push_back(cf);
  auto barrier = std::make_shared<NativeBarrier>();
  barrier->db = db_;
  auto begin = [barrier, families, dir, earlier = std::move(earlier)]() {
    for (const auto& c : earlier) (void)c->Finish();  // its owner sees the result
    return SwitchMemtables(*barrier, families, dir);
  };
  HandedOverBatch switched;
  if (cache_) {
    // The task pauses only to hand the dirty rows over; the writer writes them, then switches.
    switched = cache_->FreezeForBarrier(std::move(begin));
  } else {
    WEIR_RETURN_IF_ERROR(begin());
    switched = HandedOverBatch::Done(Status::OK());
  }
  auto deferred = std::make_shared<DeferredNativeCheckpoint>(
      db_, dir, std::move(families), std::move(barrier), switched, std::move(options));
  {
    std::lock_guard<std::mutex> lock(db_->unfinished_mu);
    db_->unfinished.push_back({deferred, switched});
  }
  return std::unique_ptr<NativeCheckpoint>(new SharedNativeCheckpoint(std::move(deferred)));
}

}  // namespace weir
