// The consistent view (a RocksDB snapshot) that full snapshots read, and the bulk loaders that
// restores write through: SST files ingested into the database (the default), or write batches.
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/write_batch.h>

#include "io/file_system.h"
#include "io/owned_directory.h"
#include "state/rocksdb/rocksdb_db.h"
#include "state/rocksdb/rocksdb_write_back_cache.h"
#include "state/row_key.h"

namespace weir {
namespace {

class SnapshotIterator final : public KeyGroupRowIterator {
 public:
  SnapshotIterator(rocksdb::DB* db, const rocksdb::Snapshot* snapshot,
                   const std::vector<rocksdb::ColumnFamilyHandle*>& cfs, KeyGroupRange range,
                   int prefix_bytes)
      : prefix_bytes_(prefix_bytes) {
    std::string lower;
    AppendKeyGroupPrefix(&lower, range.start, prefix_bytes);
    AppendKeyGroupPrefix(&upper_, range.end, prefix_bytes);
    upper_ = PrefixSuccessor(upper_);
    upper_slice_ = rocksdb::Slice(upper_);
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot;
    ro.fill_cache = false;       // a snapshot scan must not evict the job's working set
    ro.total_order_seek = true;  // every row, across the prefix extractor's prefixes
    if (!upper_.empty()) ro.iterate_upper_bound = &upper_slice_;
    for (auto* cf : cfs) {
      iterators_.emplace_back(db->NewIterator(ro, cf));
      iterators_.back()->Seek(lower);
    }
    current_group_ = range.start;
    Settle();
  }

  bool Valid() const override { return current_state_ < iterators_.size(); }
  void Next() override {
    iterators_[current_state_]->Next();
    Settle();
  }
  int key_group() const override { return current_group_; }
  size_t state_index() const override { return current_state_; }
  std::string_view key() const override {
    const auto k = iterators_[current_state_]->key();
    return std::string_view(k.data(), k.size()).substr(prefix_bytes_);
  }
  std::string_view value() const override {
    const auto v = iterators_[current_state_]->value();
    return {v.data(), v.size()};
  }
  Status status() const override {
    for (const auto& it : iterators_) {
      WEIR_RETURN_IF_ERROR(FromRocksDb(it->status(), "snapshot iteration"));
    }
    return Status::OK();
  }

 private:
  int GroupOf(const rocksdb::Iterator& it) const {
    const auto* p = reinterpret_cast<const unsigned char*>(it.key().data());
    return prefix_bytes_ == 1 ? p[0] : (p[0] << 8) | p[1];
  }

  // Moves to the next row at or after (current_group_, current_state_): first along the states
  // of this key group, then to the smallest key group any state still has.
  void Settle() {
    while (true) {
      for (; current_state_ < iterators_.size(); ++current_state_) {
        const auto& it = *iterators_[current_state_];
        if (it.Valid() && GroupOf(it) == current_group_) return;
      }
      int next_group = -1;
      for (const auto& it : iterators_) {
        if (it->Valid() && (next_group < 0 || GroupOf(*it) < next_group)) next_group = GroupOf(*it);
      }
      if (next_group < 0) return;  // every iterator is exhausted: Valid() is false
      current_group_ = next_group;
      current_state_ = 0;
    }
  }

  int prefix_bytes_;
  std::string upper_;
  rocksdb::Slice upper_slice_;
  std::vector<std::unique_ptr<rocksdb::Iterator>> iterators_;
  int current_group_ = 0;
  size_t current_state_ = 0;
};

// An iterator over nothing that reports why: the view's snapshot could not be taken.
class FailedIterator final : public KeyGroupRowIterator {
 public:
  explicit FailedIterator(Status error) : error_(std::move(error)) {}
  bool Valid() const override { return false; }
  void Next() override {}
  int key_group() const override { return 0; }
  size_t state_index() const override { return 0; }
  std::string_view key() const override { return {}; }
  std::string_view value() const override { return {}; }
  Status status() const override { return error_; }

 private:
  Status error_;
};

// The RocksDB snapshot a view reads. With a write-back cache, its writer takes it once it has
// written the rows that were dirty when the view was made, before any row written later: the
// task hands the rows over instead of writing them (a full checkpoint's synchronous part stays
// as short as an incremental one's). The last owner, the view or the writer's barrier step,
// releases it.
struct PinnedSnapshot {
  std::shared_ptr<RocksDbKeyedStateBackend::Db> db;  // keeps the database open while we read
  const rocksdb::Snapshot* snapshot = nullptr;       // set before `taken` is ready
  HandedOverBatch taken;
  ~PinnedSnapshot() {
    if (snapshot != nullptr) db->db->ReleaseSnapshot(snapshot);
  }
};

class RocksDbSnapshotView final : public StateSnapshotView {
 public:
  RocksDbSnapshotView(std::shared_ptr<PinnedSnapshot> pinned, std::vector<StateMetaInfo> states,
                      std::vector<rocksdb::ColumnFamilyHandle*> cfs, KeyGroupRange range,
                      int prefix_bytes)
      : pinned_(std::move(pinned)),
        states_(std::move(states)),
        cfs_(std::move(cfs)),
        range_(range),
        prefix_bytes_(prefix_bytes) {}

  const std::vector<StateMetaInfo>& states() const override { return states_; }
  // Waits until the snapshot is taken (at once without a write-back cache).
  std::unique_ptr<KeyGroupRowIterator> NewIterator() const override {
    Status taken = pinned_->taken.Wait();
    if (!taken.ok()) {
      return std::make_unique<FailedIterator>(
          taken.WithContext("snapshot view of the state (writing the cached rows)"));
    }
    return std::make_unique<SnapshotIterator>(pinned_->db->db, pinned_->snapshot, cfs_, range_,
                                              prefix_bytes_);
  }

 private:
  std::shared_ptr<PinnedSnapshot> pinned_;
  std::vector<StateMetaInfo> states_;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;
  KeyGroupRange range_;
  int prefix_bytes_;
};

// The RocksDB key of a row a restore loads, after checking that its state and key group are the
// loader's.
Status RowKeyOfLoadedRow(size_t state_index, size_t states, int key_group, KeyGroupRange range,
                         int prefix_bytes, std::string_view key, std::string* row_key) {
  if (state_index >= states) return Status::Corruption("row of an unknown state");
  if (!range.Contains(key_group)) {
    return Status::Corruption("row of key group " + std::to_string(key_group) +
                              " outside the backend's range " + range.ToString());
  }
  row_key->clear();
  AppendKeyGroupPrefix(row_key, key_group, prefix_bytes);
  row_key->append(key);
  return Status::OK();
}

class BulkLoader final : public StateBulkLoader {
 public:
  static constexpr size_t kBatchBytes = 4 << 20;

  BulkLoader(RocksDbKeyedStateBackend::Db* db, std::vector<rocksdb::ColumnFamilyHandle*> cfs,
             KeyGroupRange range, int prefix_bytes)
      : db_(db), cfs_(std::move(cfs)), range_(range), prefix_bytes_(prefix_bytes) {}

  Status Add(size_t state_index, int key_group, std::string_view key,
             std::string_view value) override {
    WEIR_RETURN_IF_ERROR(RowKeyOfLoadedRow(state_index, cfs_.size(), key_group, range_,
                                           prefix_bytes_, key, &row_key_));
    WEIR_RETURN_IF_ERROR(FromRocksDb(batch_.Put(cfs_[state_index], row_key_, rocksdb::Slice(value)),
                                     "restore batch"));
    return batch_.GetDataSize() >= kBatchBytes ? Flush() : Status::OK();
  }

  Status Finish() override { return Flush(); }

 private:
  Status Flush() {
    if (batch_.Count() == 0) return Status::OK();
    WEIR_RETURN_IF_ERROR(
        FromRocksDb(db_->db->Write(StateWriteOptions(), &batch_), "restore write"));
    batch_.Clear();
    db_->WaitForMemtableRoom();
    return Status::OK();
  }

  RocksDbKeyedStateBackend::Db* db_;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;
  KeyGroupRange range_;
  int prefix_bytes_;
  rocksdb::WriteBatch batch_;
  std::string row_key_;
};

// Writes each state's rows into SST files of its own (rocksdb::SstFileWriter, in the order a
// restore adds them: ascending row keys per state) and ingests every finished file into the
// database (IngestExternalFile, moving the file): the rows reach the LSM tree's lowest free level
// without passing through the memtable, the write-ahead path or a compaction. A row that does not
// follow its state's previous one (restored streams out of order) starts a new file; every file
// is ingested on its own, so the newest row wins as in a write.
class IngestingBulkLoader final : public StateBulkLoader {
 public:
  static constexpr uint64_t kFileBytes = 64 << 20;

  IngestingBulkLoader(rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*> cfs,
                      KeyGroupRange range, int prefix_bytes, std::string dir)
      : db_(db),
        cfs_(std::move(cfs)),
        range_(range),
        prefix_bytes_(prefix_bytes),
        dir_(std::move(dir)),
        files_(cfs_.size()) {}
  ~IngestingBulkLoader() override {
    for (auto& f : files_) f.writer.reset();
    (void)DeleteLocalDirectory(dir_);  // files of a failed load; ingested ones were moved
  }

  Status Add(size_t state_index, int key_group, std::string_view key,
             std::string_view value) override {
    WEIR_RETURN_IF_ERROR(RowKeyOfLoadedRow(state_index, cfs_.size(), key_group, range_,
                                           prefix_bytes_, key, &row_key_));
    File& f = files_[state_index];
    if (f.writer && (row_key_ <= f.last_key || f.writer->FileSize() >= kFileBytes)) {
      WEIR_RETURN_IF_ERROR(Ingest(state_index));
    }
    if (!f.writer) WEIR_RETURN_IF_ERROR(Start(state_index));
    WEIR_RETURN_IF_ERROR(
        FromRocksDb(f.writer->Put(row_key_, rocksdb::Slice(value)), "restore file " + f.path));
    f.last_key = row_key_;
    return Status::OK();
  }

  Status Finish() override {
    for (size_t i = 0; i < files_.size(); ++i) {
      if (files_[i].writer) WEIR_RETURN_IF_ERROR(Ingest(i));
    }
    return DeleteLocalDirectory(dir_);
  }

 private:
  struct File {
    std::unique_ptr<rocksdb::SstFileWriter> writer;
    std::string path;
    std::string last_key;
  };

  Status Start(size_t state) {
    if (!dir_created_) {
      WEIR_RETURN_IF_ERROR(DeleteLocalDirectory(dir_));  // what a failed attempt left
      WEIR_RETURN_IF_ERROR(NewPosixFileSystem()->CreateDirs(dir_));
      dir_created_ = true;
    }
    File& f = files_[state];
    f.path = dir_ + "/" + std::to_string(state) + "-" + std::to_string(next_file_++) + ".sst";
    f.writer = std::make_unique<rocksdb::SstFileWriter>(rocksdb::EnvOptions(),
                                                        db_->GetOptions(cfs_[state]), cfs_[state]);
    return FromRocksDb(f.writer->Open(f.path), "restore file " + f.path);
  }

  Status Ingest(size_t state) {
    File& f = files_[state];
    WEIR_RETURN_IF_ERROR(FromRocksDb(f.writer->Finish(), "restore file " + f.path));
    f.writer.reset();
    f.last_key.clear();
    rocksdb::IngestExternalFileOptions options;
    options.move_files = true;
    return FromRocksDb(db_->IngestExternalFile(cfs_[state], {f.path}, options),
                       "ingest of restore file " + f.path);
  }

  rocksdb::DB* db_;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;
  KeyGroupRange range_;
  int prefix_bytes_;
  std::string dir_;
  bool dir_created_ = false;
  uint64_t next_file_ = 0;
  std::vector<File> files_;  // one being written per state
  std::string row_key_;
};

}  // namespace

Result<std::unique_ptr<StateSnapshotView>> RocksDbKeyedStateBackend::CreateSnapshotView() {
  std::vector<StateMetaInfo> states = RegisteredStates();
  std::vector<rocksdb::ColumnFamilyHandle*> cfs;
  for (const auto& s : states) cfs.push_back(db_->column_families.at(s.name));
  auto pinned = std::make_shared<PinnedSnapshot>();
  pinned->db = db_;
  auto take = [pinned]() {
    pinned->snapshot = pinned->db->db->GetSnapshot();
    return Status::OK();
  };
  if (cache_) {
    pinned->taken = cache_->FreezeForBarrier(std::move(take));
  } else {
    pinned->taken = HandedOverBatch::Done(take());
  }
  return std::unique_ptr<StateSnapshotView>(new RocksDbSnapshotView(
      std::move(pinned), std::move(states), std::move(cfs), options_.key_group_range,
      KeyGroupPrefixBytes(options_.max_parallelism)));
}

Result<std::unique_ptr<StateBulkLoader>> RocksDbKeyedStateBackend::NewBulkLoader(
    const std::vector<StateMetaInfo>& states) {
  WEIR_RETURN_IF_ERROR(DrainWriteBackCache());  // loaders write RocksDB directly
  std::vector<rocksdb::ColumnFamilyHandle*> cfs;
  for (const auto& s : states) {
    auto it = db_->column_families.find(s.name);
    if (it == db_->column_families.end()) {
      return Status::FailedPrecondition("state '" + s.name + "' is not registered");
    }
    cfs.push_back(it->second);
  }
  const int prefix_bytes = KeyGroupPrefixBytes(options_.max_parallelism);
  if (options_.tuning.restore_by_ingestion) {
    return std::unique_ptr<StateBulkLoader>(
        new IngestingBulkLoader(db_->db, std::move(cfs), options_.key_group_range, prefix_bytes,
                                options_.local_dir + "/ingest-" + std::to_string(loaders_++)));
  }
  return std::unique_ptr<StateBulkLoader>(
      new BulkLoader(db_.get(), std::move(cfs), options_.key_group_range, prefix_bytes));
}

}  // namespace weir
