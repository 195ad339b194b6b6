// RocksDbKeyedStateBackend: keyed state in one embedded RocksDB instance, one column family per
// registered state. The only place (with its .cc files) that includes rocksdb headers.
//
// Row keys: key-group prefix (1 byte when max parallelism <= 128, else 2; big-endian), varint
// length + serialized key, varint length + serialized namespace, then the map user key (map
// states only). A key-group range is therefore a contiguous byte range. WAL is off: durability
// comes from checkpoints. The working directory belongs to the backend and is wiped on open.
// Threads: see KeyedStateBackend; CreateSnapshotView() returns a view other threads may read.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "snapshot/checkpointable_keyed_state_backend.h"
#include "state/rocksdb/rocksdb_options.h"
#include "state/state_snapshot_view.h"
#include "weir/keyed_state_backend.h"

namespace rocksdb {
class DB;
}  // namespace rocksdb

namespace weir {

class RocksDbSharedMemory;
class WriteBackCache;
class WriteBackCacheBudget;

// A file in a local directory (a native checkpoint, or a database being restored).
struct LocalFile {
  std::string name;
  uint64_t size = 0;
};

// How RocksDB is tuned for checkpointing (state.backend.rocksdb.* keys; docs/benchmarks.md has
// the measurements behind the defaults).
struct RocksDbTuning {
  // Where an incremental checkpoint flushes the memtables: false = in the synchronous part (the
  // task pauses for the flush), true = the synchronous part only switches the memtables and the
  // asynchronous part waits for their flush.
  bool async_flush = true;
  RocksDbCompactionStyle compaction_style = RocksDbCompactionStyle::kLevel;
  // Level: L0 files that start an L0->L1 compaction. Universal: sorted runs that start one.
  int level0_file_num_compaction_trigger = 4;
  // Universal only: a full merge starts when the older runs exceed the newest by this percentage.
  int max_size_amplification_percent = 200;
  // How restores bring rows in (full snapshots, the other databases of a rescaled incremental
  // restore): true = written into SST files and ingested, false = through write batches.
  bool restore_by_ingestion = true;
  RocksDbMemtable memtable = RocksDbMemtable::kSkipList;  // state.backend.rocksdb.memtable
  // The memory budget shared with other backends (state.backend.rocksdb.memory.managed); null:
  // RocksDB's own cache and write buffers per column family.
  std::shared_ptr<RocksDbSharedMemory> memory;
  // The write-back cache's budget (rocksdb_write_back_cache.h): shared with the other backends
  // of a managed memory budget, or this backend's own; null: no cache, every access goes to
  // RocksDB.
  std::shared_ptr<WriteBackCacheBudget> write_back_cache;
  // A state's rows of a batch, when at least this many, the cache's writer ingests as an SST
  // file instead of writing them through the memtable (WriteBackIngestion); 0: never.
  size_t write_back_ingest_min_rows = 32768;
};

struct RocksDbBackendOptions {
  // Names this backend's files in checkpoint storage; unique within a job. [A-Za-z0-9._-]+.
  std::string backend_id;
  // Local working directory; the database lives in <local_dir>/db.
  std::string local_dir;
  int max_parallelism = kDefaultMaxParallelism;
  // Empty (the default) means every key group.
  KeyGroupRange key_group_range;
  RocksDbTuning tuning;
  // Local recovery (state.backend.local-recovery): where the local copies of this backend's
  // incremental checkpoints are kept and restored from (local_recovery_copy.h); empty: off.
  std::string local_recovery_dir;
  // A changelog's replay of about this many changes follows the restore
  // (KeyedStateBackendParameters::changes_to_replay): the database opens with automatic
  // compactions off until FinishReplay(), and the write-back cache is sized for the rows.
  uint64_t changes_to_replay = 0;
};

// What a native checkpoint taken in two halves does before it links the database's files.
struct NativeCheckpointOptions {
  // A changelog backend's materialization (uploaded outside the task's path, in the background)
  // first merges each column family's L0 files into L1 when none of those files and no L1 file
  // is in `uploaded` (the SSTs, by local name, that its upload reuses) and L0 holds at least a
  // tenth of L1's bytes. Every one of those files would be uploaded anyway; merged, a row
  // overwritten since is uploaded once, and RocksDB's next L0 compaction, which would have
  // rewritten the same files, has less to do. Otherwise (L1 already uploaded, as when
  // materializations follow each other closely) merging would upload L1 again: it is skipped.
  bool merge_level0 = false;
  std::set<std::string> uploaded;
};

// A native checkpoint taken in two halves (RocksDbKeyedStateBackend::BeginNativeCheckpoint).
class NativeCheckpoint {
 public:
  virtual ~NativeCheckpoint() = default;
  // Any thread, once: waits until every write made before the begin is in SST files, then
  // hard-links the database's files (copies of MANIFEST, CURRENT, OPTIONS) into the directory
  // given to the begin and lists them. FailedPrecondition when writes made after the begin had
  // already reached an SST file (a memtable filled and flushed during the wait): that state is
  // gone, the checkpoint must fail, and the backend's next begin flushes synchronously.
  virtual Result<std::vector<LocalFile>> Finish() = 0;
};

class RocksDbKeyedStateBackend final : public CheckpointableKeyedStateBackend {
 public:
  // Opens an empty backend (whatever was in options.local_dir is deleted first).
  static Result<std::unique_ptr<RocksDbKeyedStateBackend>> Open(RocksDbBackendOptions options);
  // The memory budget this backend shares with others; null when unmanaged.
  const std::shared_ptr<RocksDbSharedMemory>& shared_memory() const {
    return options_.tuning.memory;
  }
  // The write-back cache in front of RocksDB; null when off.
  WriteBackCache* write_back_cache() const { return cache_.get(); }
  // The database, for reading its properties and metadata (the backend does all writes).
  rocksdb::DB* database() const;
  // Opens the database that a restore placed in <options.local_dir>/db (the files of a native
  // checkpoint); `states` are the states it holds, one column family each.
  static Result<std::unique_ptr<RocksDbKeyedStateBackend>> OpenRestored(
      RocksDbBackendOptions options, const std::vector<StateMetaInfo>& states);
  // <local_dir>/db: where the database lives.
  static std::string DbDir(const std::string& local_dir) { return local_dir + "/db"; }
  ~RocksDbKeyedStateBackend() override;

  const std::string& backend_id() const override { return options_.backend_id; }
  const std::string& local_dir() const { return options_.local_dir; }
  const std::string& local_recovery_dir() const { return options_.local_recovery_dir; }
  const KeyGroupRange& key_group_range() const override { return options_.key_group_range; }
  int max_parallelism() const override { return options_.max_parallelism; }

  Status SetCurrentKey(std::string_view serialized_key) override;
  using KeyedStateBackend::SetCurrentKey;
  int current_key_group() const override { return current_key_group_; }
  Status ForEachKey(std::string_view state_name, std::string_view serialized_namespace,
                    const std::function<bool(std::string_view key)>& visit) override;
  std::vector<StateMetaInfo> RegisteredStates() const override;

  // --- the checkpoint contract ---

  // The strategy Snapshot() runs for checkpoints (full or incremental,
  // rocksdb_backend_factory.h picks it) and the native one (RocksDB's files, an
  // IncrementalSnapshotStrategy of its own) for native savepoints (never a base) and for a
  // changelog backend's materializations (each the base of the next once confirmed); canonical
  // savepoints are full snapshots. They refer to this backend and are destroyed before it.
  void SetSnapshotStrategy(std::unique_ptr<SnapshotStrategy> strategy,
                           std::unique_ptr<SnapshotStrategy> native = nullptr) {
    strategy_ = std::move(strategy);
    native_ = std::move(native);
  }
  SnapshotStrategy* snapshot_strategy() const { return strategy_.get(); }
  SnapshotStrategy* native_snapshot_strategy() const { return native_.get(); }
  using CheckpointableKeyedStateBackend::Snapshot;
  Result<std::unique_ptr<AsyncSnapshotPart>> Snapshot(uint64_t checkpoint_id,
                                                      const CheckpointOptions& options) override;
  bool SupportsIncrementalMaterialization() const override { return native_ != nullptr; }
  // The write-back cache's writer, left asleep by the snapshot's hand-over.
  void BarrierForwarded() override;
  // Turns automatic compactions on when they were held for the replay (changes_to_replay).
  Status FinishReplay() override;
  bool compactions_held() const;
  // Both strategies hear every outcome: the native one builds on the materializations a
  // changelog backend confirms (its checkpoints and savepoints are never recorded as bases).
  void NotifyCheckpointComplete(uint64_t checkpoint_id) override {
    if (strategy_) strategy_->NotifyCheckpointComplete(checkpoint_id);
    if (native_) native_->NotifyCheckpointComplete(checkpoint_id);
  }
  void NotifyCheckpointAborted(uint64_t checkpoint_id) override {
    if (strategy_) strategy_->NotifyCheckpointAborted(checkpoint_id);
    if (native_) native_->NotifyCheckpointAborted(checkpoint_id);
  }

  // --- for snapshot strategies and restore operations ---

  // Called on the owner's thread; cheap (a RocksDB snapshot), independent of state size.
  Result<std::unique_ptr<StateSnapshotView>> CreateSnapshotView() override;
  // A RocksDB native checkpoint: flushes the memtables and hard-links the database's live files
  // (SSTs; copies of MANIFEST, CURRENT, OPTIONS) into `dir`, which must not exist. Costs a
  // flush plus one hard link per file, independent of the state size. Owner's thread only.
  Result<std::vector<LocalFile>> CreateNativeCheckpoint(const std::string& dir);
  // The synchronous half of a native checkpoint into `dir` (owner's thread). With
  // tuning.async_flush it only switches the memtables that hold writes (no waiting, no I/O) and
  // pins the sequence number of the last write; Finish() does the rest. Without it (or after a
  // failed Finish) it is CreateNativeCheckpoint and Finish() only returns the files.
  Result<std::unique_ptr<NativeCheckpoint>> BeginNativeCheckpoint(
      const std::string& dir, NativeCheckpointOptions options = {});
  // Writes the write-back cache's dirty rows into RocksDB (owner's thread); every state is then
  // in RocksDB alone. Iterations, snapshot views and native checkpoints do it first.
  Status DrainWriteBackCache();
  // Waits until RocksDB has no flush or compaction pending or running: the state is settled.
  // Benchmarks use it to measure a change against a settled state rather than against the
  // compaction of a bulk load.
  Status WaitForBackgroundWork();
  // Flushes and compacts every state into RocksDB's last level, then waits as above: a state as
  // settled as it gets (benchmarks measure a change against it).
  Status CompactFully();
  // After a restore from a database that held the key groups `held`, more than this backend owns
  // (the parallelism changed): deletes the rows of every key group outside its range (whole SST
  // files inside those ranges at once, the rest by range deletions) and compacts those ranges, so
  // that they are neither read nor carried into its next checkpoints.
  Status DropKeyGroupsOutsideRange(KeyGroupRange held);
  // Registers states read from a checkpoint before their rows are loaded.
  Status RegisterStates(const std::vector<StateMetaInfo>& states) override;
  // A loader whose state indexes refer to `states` (all registered already).
  Result<std::unique_ptr<StateBulkLoader>> NewBulkLoader(
      const std::vector<StateMetaInfo>& states) override;

  struct Db;  // the open database and its column families (defined in the .cc)

 protected:
  Result<RawKeyedState*> GetOrCreateRawState(const StateMetaInfo& meta) override;
  // Installs the state's compaction filter (rocksdb_ttl_compaction_filter.h).
  Status OnTtlStateRegistered(const StateMetaInfo& meta, const StateTtlConfig& ttl) override;

 private:
  class Table;
  RocksDbKeyedStateBackend(RocksDbBackendOptions options, std::shared_ptr<Db> db);
  static Status ValidateOptions(RocksDbBackendOptions& options);

  RocksDbBackendOptions options_;
  std::shared_ptr<Db> db_;
  std::unique_ptr<WriteBackCache> cache_;  // after db_: its writer stops before the database goes
  std::vector<std::unique_ptr<Table>> tables_;
  std::string current_key_prefix_;  // key-group prefix + varint length + key
  int current_key_group_ = -1;
  int loaders_ = 0;  // bulk loaders made: each ingests from a directory of its own
  // Last: destroyed first, they refer to *this.
  std::unique_ptr<SnapshotStrategy> native_;
  std::unique_ptr<SnapshotStrategy> strategy_;
};

}  // namespace weir
