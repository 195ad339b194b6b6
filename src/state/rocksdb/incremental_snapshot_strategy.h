// IncrementalSnapshotStrategy: each checkpoint uploads only the SSTs that no confirmed checkpoint
// of this backend uploaded, and references the rest by their storage name.
//
// Sync part (owner's thread): a RocksDB native checkpoint into <local_dir>/checkpoints/chk-<N>
// (memtable flush + hard links), plus the state meta info. Async part (any one thread that is
// not in the I/O pool): uploads the new SSTs to shared/<backend>-<file number>-<random>.sst and
// the private files (MANIFEST, CURRENT, OPTIONS) to chk-<N>/<backend>/ in parallel on the I/O
// pool, then removes the local working directory whatever the outcome (with local recovery on, a
// checkpoint's uploaded native checkpoint is kept as its local copy instead:
// local_recovery_copy.h).
//
// A materialization (CheckpointOptions::Materialization(), for a changelog backend) is built the
// same way on the latest confirmed materialization, but every file goes to shared/ and is written
// outside any checkpoint (written_by_checkpoint 0): its SSTs as shared/<backend>-<file
// number>-<random>.sst, its private files as shared/<backend>-materialization-<N>-<random>-<name>
// (role kMaterialization): later checkpoints reference them all until the next one.
//
// Base tracking: the SSTs of each snapshot are remembered by checkpoint id. Only
// NotifyCheckpointComplete(N) makes N the base of the next checkpoint; an aborted, failed or
// still pending checkpoint is never built on (docs/design.md, invariant 2). A full checkpoint
// uploads every SST (it has no base) and becomes a base like any other; a native savepoint
// uploads every file into its own directory (<backend id>/<RocksDB name>) and is never a base.
// Thread-safe: notifications may come from any thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/thread_pool.h"
#include "snapshot/snapshot_strategy.h"
#include "state/rocksdb/local_recovery_copy.h"
#include "state/rocksdb/rocksdb_keyed_state_backend.h"
#include "storage/checkpoint_storage.h"

namespace weir {

// SSTs by local name, per checkpoint, and which completed checkpoint is the base.
class SstBaseTracker {
 public:
  struct Base {
    std::optional<uint64_t> checkpoint_id;
    std::map<std::string, StateFileHandle> sst_files;  // local name -> handle in shared/
  };
  Base Current() const;
  void Record(uint64_t checkpoint_id, std::map<std::string, StateFileHandle> sst_files);
  void Complete(uint64_t checkpoint_id);
  void Abort(uint64_t checkpoint_id);
  // The job owns restored checkpoint N: its SSTs are the base.
  void SetBase(uint64_t checkpoint_id, std::map<std::string, StateFileHandle> sst_files);

 private:
  mutable std::mutex mu_;
  Base base_;
  std::map<uint64_t, std::map<std::string, StateFileHandle>> pending_;
};

class IncrementalSnapshotStrategy final : public SnapshotStrategy {
 public:
  // `backend`, `storage` and `io_pool` must outlive the strategy and every async part.
  // `local_copies`: keeps the local recovery copies of its checkpoints when the backend has
  // local recovery on (the backend's native strategy, for savepoints and materializations,
  // keeps none).
  IncrementalSnapshotStrategy(RocksDbKeyedStateBackend& backend, const CheckpointStorage& storage,
                              ThreadPool& io_pool, bool local_copies = true);

  using SnapshotStrategy::SyncPart;
  Result<std::unique_ptr<AsyncSnapshotPart>> SyncPart(uint64_t checkpoint_id,
                                                      const CheckpointOptions& options) override;

  // Both also keep the local recovery copies (local_recovery_copy.h) in step, when it is on.
  void NotifyCheckpointComplete(uint64_t checkpoint_id) override;
  void NotifyCheckpointAborted(uint64_t checkpoint_id) override;
  // An owned incremental checkpoint becomes the base (claim mode); anything else is never
  // built on.
  void RestoredFrom(uint64_t checkpoint_id, const KeyedStateHandle& restored, bool owned) override;
  // After a restore of an incremental checkpoint that this job owns (claim mode).
  void SetBaseFromRestore(uint64_t checkpoint_id, const KeyedStateHandle& restored);
  std::optional<uint64_t> base_checkpoint_id() const { return tracker_->Current().checkpoint_id; }

  static std::string LocalCheckpointDir(const std::string& local_dir, uint64_t checkpoint_id);

 private:
  RocksDbKeyedStateBackend& backend_;
  const CheckpointStorage& storage_;
  ThreadPool& io_pool_;
  std::shared_ptr<SstBaseTracker> tracker_;
  std::shared_ptr<const LocalRecoveryCopy> local_copy_;  // null: local recovery off
};

}  // namespace weir
