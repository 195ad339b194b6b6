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
// Each acknowledgement holds the shared files it reuses in the store's registry, so that no
// checkpoint completing meanwhile deletes them; one that reuses a file already released (its
// checkpoint was subsumed) aborts its checkpoint (CompletedCheckpointStore::HoldForPending).
//
// Triggering on an interval, timeouts and the conversation with running subtasks come with the
// streaming runtime; this class holds the decisions they will drive. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_cleaner.h"
#include "checkpoint/checkpoint_stats.h"
#include "checkpoint/completed_checkpoint_store.h"
#include "snapshot/checkpoint_listener.h"
#include "snapshot/task_state_snapshot.h"

namespace weir {

struct CoordinatorOptions {
  std::string job_id;
  int num_retained = 1;
  std::vector<OperatorInfo> operators;  // recorded in every checkpoint's metadata
  size_t stats_history = 100;           // checkpoints kept in the statistics
};

class CheckpointCoordinator {
 public:
  CheckpointCoordinator(CheckpointStorage storage, CoordinatorOptions options);
  ~CheckpointCoordinator();

  // Creates the job directory if needed and rebuilds the store and registry from the completed
  // checkpoints in it, none newer than `newest` when given (the checkpoint the job restored
  // after newer ones failed to); new checkpoint ids continue after the highest id found.
  Result<RecoveredStore> Recover(std::optional<uint64_t> newest = std::nullopt);

  void AddListener(CheckpointListener* listener);

  // Starts checkpoint N (returned), which completes once each of `task_ids` acknowledged.
  Result<uint64_t> StartCheckpoint(CheckpointKind kind, std::vector<std::string> task_ids,
                                   int64_t trigger_unix_ms);
  // A backend's snapshot for checkpoint N. Returns N's metadata when this acknowledgement
  // completed N. An acknowledgement for a checkpoint that is no longer pending is discarded (its
  // uploads are deleted) and answered with Aborted; one from a backend that the pending
  // checkpoint does not (or no longer) await is refused with InvalidArgument and deletes nothing.
  Result<std::optional<CheckpointMetadata>> Acknowledge(uint64_t checkpoint_id,
                                                        TaskStateSnapshot snapshot,
                                                        int64_t now_unix_ms);
  // A task that holds one backend and nothing else: its task id is the backend id.
  Result<std::optional<CheckpointMetadata>> Acknowledge(uint64_t checkpoint_id,
                                                        KeyedStateHandle handle,
                                                        int64_t now_unix_ms);
  // Aborts N if it is pending (a no-op otherwise); returns whether it was.
  bool Abort(uint64_t checkpoint_id, const std::string& reason);
  // Aborts every pending checkpoint (the job's tasks failed or were cancelled).
  void AbortAll(const std::string& reason);

  const CheckpointStorage& storage() const { return storage_; }
  // Every checkpoint this coordinator started, and the restores the runtime reports.
  CheckpointStatsTracker& stats() { return stats_; }
  const CheckpointStatsTracker& stats() const { return stats_; }
  std::vector<uint64_t> RetainedIds() const;
  std::optional<CheckpointMetadata> Latest() const;
  // Every retained completed checkpoint, oldest first.
  std::vector<CheckpointMetadata> Retained() const;
  std::vector<uint64_t> PendingIds() const;
  // Every shared file some checkpoint references: retained, pending, or subsumed but kept for a
  // pending checkpoint that may build on it.
  std::set<std::string> HeldSharedFiles() const;
  CheckpointCleaner& cleaner() { return cleaner_; }

 private:
  struct Pending {
    CheckpointKind kind;
    int64_t trigger_unix_ms;
    std::set<std::string> awaiting;
    std::vector<KeyedStateHandle> acknowledged;
    std::vector<OperatorStateHandle> operator_states;
  };
  Result<CheckpointMetadata> CompleteLocked(uint64_t id, Pending pending, int64_t now_unix_ms,
                                            std::vector<uint64_t>* aborted,
                                            bool* metadata_may_exist);
  Result<std::optional<CheckpointMetadata>> AcknowledgeLocked(uint64_t checkpoint_id,
                                                              TaskStateSnapshot snapshot,
                                                              int64_t now_unix_ms,
                                                              std::vector<uint64_t>* completed,
                                                              std::vector<uint64_t>* aborted);
  // Pending checkpoint `id` ended without completing: releases what it held and deletes what it
  // uploaded (only the holds when its `_metadata` may exist: then every file is kept).
  void DiscardPendingLocked(uint64_t id, const std::vector<KeyedStateHandle>& handles,
                            bool metadata_may_exist = false);
  void NotifyAll(const std::vector<uint64_t>& completed, const std::vector<uint64_t>& aborted);

  CheckpointStorage storage_;
  CoordinatorOptions options_;
  mutable std::mutex mu_;
  CompletedCheckpointStore store_;
  std::map<uint64_t, Pending> pending_;
  uint64_t next_id_ = 1;
  std::vector<CheckpointListener*> listeners_;
  CheckpointCleaner cleaner_;
  CheckpointStatsTracker stats_;
};

}  // namespace weir
