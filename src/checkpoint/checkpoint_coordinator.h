// CheckpointCoordinator: starts checkpoints, collects each backend's acknowledgement, and
// completes or aborts them (docs/design.md, steps 6 and 7).
//
// Completion of N, in order: write chk-N/_metadata atomically (N now exists); add N to the
// CompletedCheckpointStore (registers its shared files, subsumes checkpoints beyond
// num_retained); abort pending checkpoints older than N; hand the discard plan to the cleaner
// (asynchronous); notify listeners that N completed (N becomes the base of the next incremental
// checkpoint). Abort of N: listeners are notified and the files N uploaded are deleted — those
// of acknowledgements that arrive later too. Named failpoints sit between the steps.
//
// The coordinator never waits on storage while it holds its lock: the last acknowledgement of N
// hands N's completion to the coordinator's I/O thread, which writes `_metadata` with the lock
// released and takes it only to update the store. Acknowledgements of other checkpoints, aborts
// and readers (REST, metrics) are answered meanwhile. Completions run one at a time in the order
// their checkpoints were fully acknowledged; one that would complete after a newer checkpoint
// fails before it writes anything. N is "completing" from its last acknowledgement until its
// completion settles: it is neither pending (an abort no longer reaches it) nor retained yet.
//
// Each acknowledgement holds the shared files it reuses in the store's registry, so that no
// checkpoint completing meanwhile deletes them; one that reuses a file already released (its
// checkpoint was subsumed) aborts its checkpoint (CompletedCheckpointStore::HoldForPending).
//
// The store, the cleaner and the statistics are given to it (CoordinatorComponents). Triggering
// on an interval and timeouts belong to the runtime's CheckpointScheduler. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_cleaner.h"
#include "checkpoint/checkpoint_stats.h"
#include "checkpoint/completed_checkpoint_store.h"
#include "common/thread_pool.h"
#include "snapshot/checkpoint_listener.h"
#include "snapshot/task_state_snapshot.h"

namespace weir {

struct CoordinatorOptions {
  std::string job_id;
  int num_retained = 1;
  std::vector<OperatorInfo> operators;  // recorded in every checkpoint's metadata
  size_t stats_history = 100;           // checkpoints kept in the statistics
  // The id of the first checkpoint (Flink's rule: a job resumed from checkpoint or savepoint N
  // numbers its checkpoints from N + 1 even in a new job directory); Recover may raise it.
  uint64_t first_checkpoint_id = 1;
};

// What a coordinator works with, built by its creator: the store of completed checkpoints, the
// cleaner that carries out its deletions, and the statistics (shared: readers such as the REST
// API may hold them).
struct CoordinatorComponents {
  std::unique_ptr<CompletedCheckpointStore> store;
  std::unique_ptr<CheckpointCleaner> cleaner;
  std::shared_ptr<CheckpointStatsTracker> stats;
};
// The usual components: a store retaining options.num_retained, a cleaner deleting in `storage`,
// statistics keeping options.stats_history checkpoints.
CoordinatorComponents DefaultCoordinatorComponents(const CheckpointStorage& storage,
                                                   const CoordinatorOptions& options);

class CheckpointCoordinator {
 public:
  // What an acknowledgement led to: the checkpoint's metadata when it completed N, nothing when N
  // still awaits other tasks, or why the acknowledgement was refused or N failed.
  using AckResult = Result<std::optional<CheckpointMetadata>>;
  using AckCallback = std::function<void(AckResult)>;

  CheckpointCoordinator(CheckpointStorage storage, CoordinatorOptions options,
                        CoordinatorComponents components);
  // With DefaultCoordinatorComponents(storage, options).
  CheckpointCoordinator(CheckpointStorage storage, CoordinatorOptions options);
  ~CheckpointCoordinator();

  // Creates the job directory if needed and rebuilds the store and registry from the completed
  // checkpoints in it, none newer than `newest` when given (the checkpoint the job restored
  // after newer ones failed to); new checkpoint ids continue after the highest id found.
  Result<RecoveredStore> Recover(std::optional<uint64_t> newest = std::nullopt);

  void AddListener(CheckpointListener* listener);

  // Starts checkpoint N (returned), which completes once each of `task_ids` acknowledged.
  // A savepoint (`kind` a savepoint kind) is written to `savepoint`, a savepoint directory: its
  // `_metadata` goes there, it is never added to the store, never subsumes or is subsumed by a
  // checkpoint, and its directory is deleted if it is aborted (docs/savepoints.md).
  Result<uint64_t> StartCheckpoint(CheckpointKind kind, std::vector<std::string> task_ids,
                                   int64_t trigger_unix_ms,
                                   std::shared_ptr<const CheckpointStorage> savepoint = nullptr);
  // A task's snapshot for checkpoint N. `done` is called once: on the calling thread when N still
  // awaits other tasks or the acknowledgement is refused, on the I/O thread once N's completion
  // settled (after the listeners heard of it) when this was N's last acknowledgement.
  // An acknowledgement for a checkpoint that is no longer pending is discarded (its uploads are
  // deleted) and answered with Aborted; one from a task that N does not (or no longer) await,
  // or for a checkpoint that is completing, is refused with InvalidArgument and deletes nothing.
  void Acknowledge(uint64_t checkpoint_id, TaskStateSnapshot snapshot, int64_t now_unix_ms,
                   AckCallback done);
  // The same, waiting for the outcome (the completion's storage writes included).
  AckResult Acknowledge(uint64_t checkpoint_id, TaskStateSnapshot snapshot, int64_t now_unix_ms);
  // A task that holds one backend and nothing else: its task id is the backend id.
  AckResult Acknowledge(uint64_t checkpoint_id, KeyedStateHandle handle, int64_t now_unix_ms);
  // Aborts N if it is pending (a no-op otherwise); returns whether it was.
  bool Abort(uint64_t checkpoint_id, const std::string& reason);
  // Aborts every pending checkpoint (the job's tasks failed or were cancelled) and waits until
  // the completions already under way settled: afterwards Latest() no longer changes on its own.
  void AbortAll(const std::string& reason);
  // Blocks until every completion handed to the I/O thread so far has settled.
  void WaitForCompletions();

  // Asked after N's _metadata is durable and before N counts as completed, with no lock held:
  // an error refuses N — its _metadata is deleted, its files discarded, and the acknowledgement
  // answered with FailedPrecondition (the only completion failure with that code). A scaled-out
  // job's shard fences a former owner with it: only the shard's current owner completes
  // checkpoints (docs/design.md, "Scale-out"). Set before the first checkpoint.
  using CompletionFence =
      std::function<Status(const CheckpointMetadata& m, const std::string& metadata_path)>;
  void SetCompletionFence(CompletionFence fence) { fence_ = std::move(fence); }

  const CheckpointStorage& storage() const { return storage_; }
  // Every checkpoint this coordinator started, and the restores the runtime reports.
  CheckpointStatsTracker& stats() { return *stats_; }
  const CheckpointStatsTracker& stats() const { return *stats_; }
  std::vector<uint64_t> RetainedIds() const;
  std::optional<CheckpointMetadata> Latest() const;
  // Every retained completed checkpoint, oldest first.
  std::vector<CheckpointMetadata> Retained() const;
  // Checkpoints that await acknowledgements (completing ones are not pending).
  std::vector<uint64_t> PendingIds() const;
  // Every shared file some checkpoint references: retained, pending, completing, or subsumed but
  // kept for a pending checkpoint that may build on it.
  std::set<std::string> HeldSharedFiles() const;
  CheckpointCleaner& cleaner() { return *cleaner_; }

 private:
  struct Pending {
    CheckpointKind kind;
    int64_t trigger_unix_ms;
    std::set<std::string> awaiting;
    std::vector<KeyedStateHandle> acknowledged;
    std::vector<OperatorStateHandle> operator_states;
    std::shared_ptr<const CheckpointStorage> savepoint;  // a savepoint's directory
  };
  // Where checkpoint `id`'s files and `_metadata` go.
  const CheckpointStorage& StorageOf(const Pending& p) const {
    return p.savepoint ? *p.savepoint : storage_;
  }
  // Records the acknowledgement; when it was N's last, moves N to completing and returns true.
  Result<bool> AcknowledgeLocked(uint64_t checkpoint_id, TaskStateSnapshot snapshot,
                                 int64_t now_unix_ms, std::vector<uint64_t>* aborted);
  // On the I/O thread: writes N's _metadata (lock released), then registers N.
  void Complete(uint64_t id, int64_t now_unix_ms, AckCallback done);
  CheckpointMetadata MetadataOf(uint64_t id, Pending pending, int64_t now_unix_ms) const;
  // Writes `m` into `to`; on failure, `*metadata_may_exist` tells whether a _metadata may be
  // left.
  Status WriteMetadata(const CheckpointStorage& to, const CheckpointMetadata& m,
                       bool* metadata_may_exist);
  // N's _metadata is durable: registers N, aborts pending checkpoints older than N.
  void RegisterCompletedLocked(const CheckpointMetadata& m, int64_t now_unix_ms,
                               std::vector<uint64_t>* aborted);
  // Pending checkpoint `id` ended without completing: releases what it held and deletes what it
  // uploaded (only the holds when its `_metadata` may exist: then every file is kept).
  void DiscardPendingLocked(uint64_t id, const std::vector<KeyedStateHandle>& handles,
                            bool metadata_may_exist = false);
  void NotifyAll(const std::vector<uint64_t>& completed, const std::vector<uint64_t>& aborted);

  CheckpointStorage storage_;
  CoordinatorOptions options_;
  std::unique_ptr<CompletedCheckpointStore> store_;  // guarded by mu_
  std::unique_ptr<CheckpointCleaner> cleaner_;
  std::shared_ptr<CheckpointStatsTracker> stats_;
  CompletionFence fence_;
  mutable std::mutex mu_;
  std::map<uint64_t, Pending> pending_;     // guarded by mu_
  std::map<uint64_t, Pending> completing_;  // guarded by mu_: fully acknowledged, not settled
  // Every savepoint started, by id (guarded by mu_): a late acknowledgement of an aborted one
  // deletes its directory, never a path of the job directory.
  std::map<uint64_t, std::shared_ptr<const CheckpointStorage>> savepoints_;
  uint64_t next_id_;  // guarded by mu_
  std::vector<CheckpointListener*> listeners_;
  // Last member: its thread finishes the completions handed to it before the rest goes.
  ThreadPool io_{1, "weir-ckpt-io"};
};

}  // namespace weir
