// CheckpointableKeyedStateBackend: the contract between a keyed state backend and everything that
// checkpoints or restores it. The runtime, the coordinator and the snapshot code know this
// contract only; each backend (src/state/rocksdb/, src/state/hashmap/) implements it beside its
// own snapshot strategies, and is made by the factory registered for its `state.backend.type`
// (src/state/state_backends.h).
//
// Lifecycle: created empty or restored from state handles of a checkpoint (by its factory),
// used by one thread (the subtask's) for state access and the synchronous part of snapshots;
// notifications may come from any thread; destroyed when the subtask ends.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/thread_pool.h"
#include "snapshot/checkpoint_listener.h"
#include "snapshot/snapshot_strategy.h"
#include "snapshot/state_handle.h"
#include "state/state_snapshot_view.h"
#include "storage/checkpoint_storage.h"
#include "weir/config.h"
#include "weir/keyed_state_backend.h"

namespace weir {

class ChangelogWriter;

class CheckpointableKeyedStateBackend : public KeyedStateBackend, public CheckpointListener {
 public:
  // Names this backend's files in checkpoint storage; unique within a job. [A-Za-z0-9._-]+.
  virtual const std::string& backend_id() const = 0;

  // The synchronous part of snapshot N (owner's thread, short): returns the asynchronous part,
  // which persists the state on another thread and yields the handle to acknowledge. `options`
  // say what N is (checkpoint_options.h): a savepoint goes to options.target only, in the
  // canonical format (key-group streams) or the backend's native one (a backend without one
  // writes the canonical format), and is never the base of a later checkpoint; a full checkpoint
  // references no file of an earlier one. FailedPrecondition when the backend was made without
  // checkpoint storage.
  virtual Result<std::unique_ptr<AsyncSnapshotPart>> Snapshot(uint64_t checkpoint_id,
                                                              const CheckpointOptions& options) = 0;
  Result<std::unique_ptr<AsyncSnapshotPart>> Snapshot(uint64_t checkpoint_id) {
    return Snapshot(checkpoint_id, CheckpointOptions::Checkpoint());
  }
  // The task forwarded the barrier of the snapshot it just took (owner's thread): a thread of the
  // backend's own that the synchronous part handed work to may be woken now. Waking it inside the
  // synchronous part can cost the task its core for milliseconds when every core is busy, and
  // the barrier should not wait for that. Whoever waits for the handed-over work wakes the
  // thread too, so a caller that never calls this only delays the work.
  virtual void BarrierForwarded() {}
  // Whether Snapshot(N, CheckpointOptions::Materialization()) works: an incremental snapshot
  // (kind kIncremental) whose files all lie in shared/, written outside any checkpoint
  // (written_by_checkpoint 0: its private files with role kMaterialization, named by their
  // local_name), reusing the files of the latest materialization M confirmed by
  // NotifyCheckpointComplete(M). Its N must not be the id of a checkpoint this backend
  // snapshots. Changelog backends materialize through it; others write key-group streams.
  virtual bool SupportsIncrementalMaterialization() const { return false; }

  // All state as of now, in the canonical key-group order, readable from any one thread while
  // the owner goes on (owner's thread). Full snapshots and savepoints are written from it.
  virtual Result<std::unique_ptr<StateSnapshotView>> CreateSnapshotView() = 0;

  // Restore of canonical rows (a full snapshot, whichever backend wrote it): registers the
  // states, then loads their rows through the loader (state indexes refer to `states`).
  virtual Status RegisterStates(const std::vector<StateMetaInfo>& states) = 0;
  virtual Result<std::unique_ptr<StateBulkLoader>> NewBulkLoader(
      const std::vector<StateMetaInfo>& states) = 0;

  // The replay that followed the restore (KeyedStateBackendParameters::changes_to_replay) is
  // done: background work the backend held back for it starts now (owner's thread).
  virtual Status FinishReplay() { return Status::OK(); }

  void NotifyCheckpointComplete(uint64_t) override {}
  void NotifyCheckpointAborted(uint64_t) override {}
};

// What a backend is made with.
struct KeyedStateBackendParameters {
  std::string backend_id;
  std::string local_dir;  // the backend's own working directory (may be unused)
  // Local recovery (state.backend.local-recovery): the backend's own directory for local copies
  // of its checkpoints, kept across runs; empty: off (or unsupported by the backend).
  std::string local_recovery_dir;
  int max_parallelism = kDefaultMaxParallelism;
  KeyGroupRange key_group_range;
  const Configuration* config = nullptr;                  // the job's; outlives the backend
  const CheckpointStorage* checkpoint_storage = nullptr;  // null: no checkpoints are taken
  ThreadPool* io_pool = nullptr;  // transfers of checkpoint files; outlives the backend
  // The subtask's index: backends of one slot (subtask i of every operator) may share resources
  // (state.backend.rocksdb.memory.fixed-per-slot).
  int slot = 0;
  // The process's state-change log (state/changelog/), when state.backend.changelog.enabled.
  std::shared_ptr<ChangelogWriter> changelog_writer;
  // Set by a changelog restore: about this many changes are replayed into the backend once the
  // factory returns it, then FinishReplay() is called. The backend may hold back background
  // work until then (RocksDB: compactions, which would take the replay's cores).
  uint64_t changes_to_replay = 0;
};

// The checkpoint a backend is restored from.
struct KeyedStateRestore {
  const CheckpointStorage* storage = nullptr;  // where the checkpoint lies
  uint64_t checkpoint_id = 0;
  // Every handle sharing key groups with the backend's range: one at an unchanged parallelism,
  // several after a rescale (the backend takes only the key groups of its own range).
  std::vector<KeyedStateHandle> handles;
  // The job owns the checkpoint (it resumed its own job directory): its files may be the base of
  // the next incremental checkpoint. Otherwise they are never referenced.
  bool owned = false;
};

// Makes a backend, empty (`restore` null) or restored.
using KeyedStateBackendFactory = Result<std::unique_ptr<CheckpointableKeyedStateBackend>> (*)(
    const KeyedStateBackendParameters& parameters, const KeyedStateRestore* restore);

}  // namespace weir
