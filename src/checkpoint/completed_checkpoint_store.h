// CompletedCheckpointStore: the retained completed checkpoints, oldest first, the pending
// checkpoints, and the SharedStateRegistry of every shared file any of them references.
//
// Add(N) registers N's shared files, then subsumes the oldest checkpoints beyond num_retained and
// releases their shared files. It decides only; the returned DiscardPlan is carried out by the
// CheckpointCleaner, off the critical path. The latest completed checkpoint is always retained.
//
// Pending checkpoints hold references too (invariant: nothing a pending checkpoint may still
// complete with is deleted). A pending checkpoint builds on whichever completed checkpoint its
// tasks last heard of, which may be subsumed while it is in flight:
// - each acknowledgement holds the shared files it reuses (HoldForPending); a reused file that is
//   no longer referenced (already released for deletion) is refused, and the checkpoint must be
//   aborted before it can complete;
// - a subsumed checkpoint keeps its shared files until every checkpoint that was pending when it
//   was subsumed (and is newer) has completed or ended, so that those rarely need aborting.
// Not thread-safe: owned by the CheckpointCoordinator.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_metadata.h"
#include "checkpoint/shared_state_registry.h"

namespace weir {

// What to delete after a change to the store.
struct DiscardPlan {
  std::vector<uint64_t> checkpoints;      // subsumed: their chk-N directory goes
  std::vector<std::string> shared_files;  // relative paths no retained checkpoint references
  bool empty() const { return checkpoints.empty() && shared_files.empty(); }
  void Append(DiscardPlan other);
};

class CompletedCheckpointStore {
 public:
  explicit CompletedCheckpointStore(int num_retained);

  // Checkpoint `id` started.
  void AddPending(uint64_t id);
  // Pending checkpoint `id` acknowledged `handles`: holds the shared files they reuse (those an
  // earlier checkpoint wrote). FailedPrecondition, holding nothing, when `id` is not pending or a
  // reused file is no longer referenced by any checkpoint (it may be deleted already): `id` can
  // then never complete.
  Status HoldForPending(uint64_t id, const std::vector<KeyedStateHandle>& handles);
  // Pending checkpoint `id` ended without completing: its holds go (unless `keep_references`: its
  // `_metadata` may exist after all, so what it references is kept until the next restart
  // rebuilds the registry). Returns the shared files no checkpoint references any more.
  DiscardPlan RemovePending(uint64_t id, bool keep_references = false);

  // `m`'s _metadata is durable; `m` is no longer pending. FailedPrecondition if its id is not
  // above the latest's.
  Result<DiscardPlan> Add(CheckpointMetadata m);

  const CheckpointMetadata* Latest() const;
  std::vector<uint64_t> RetainedIds() const;
  const std::deque<CheckpointMetadata>& checkpoints() const { return checkpoints_; }
  const SharedStateRegistry& registry() const { return registry_; }
  int num_retained() const { return num_retained_; }
  const std::set<uint64_t>& pending() const { return pending_; }
  // Subsumed checkpoints whose shared files are kept for pending checkpoints.
  std::vector<uint64_t> SubsumedStillHeld() const;

 private:
  // Releases the shared files of subsumed checkpoints that no pending checkpoint needs now.
  DiscardPlan ReleaseSubsumed();

  int num_retained_;
  std::deque<CheckpointMetadata> checkpoints_;
  std::set<uint64_t> pending_;
  // Subsumed checkpoint -> the newest checkpoint that was pending when it was subsumed: pending
  // checkpoints with ids between the two may build on it.
  std::map<uint64_t, uint64_t> subsumed_held_until_;
  SharedStateRegistry registry_;
};

// Rebuilds a store from the completed checkpoints in `storage` (after a process restart), in two
// steps so that a caller can read storage without holding the lock that guards its store:
// ReadStoredCheckpoints lists and reads (storage only), RegisterStoredCheckpoints adds what was
// read (memory only). Checkpoints whose _metadata cannot be read are skipped and reported;
// nothing they reference is registered, so nothing is deleted on their account. Checkpoints newer
// than `newest` (when given) are left out: nothing they reference is registered or deleted on
// their account, and they never subsume older ones.
struct StoredCheckpoints {
  std::vector<CheckpointMetadata>
      checkpoints;                      // readable checkpoints (no savepoints), oldest first
  std::vector<Status> unreadable;       // one per skipped checkpoint
  uint64_t highest_checkpoint_id = 0;   // of any chk-N directory, complete or not
  std::vector<uint64_t> skipped_newer;  // completed, but newer than `newest`
};
Result<StoredCheckpoints> ReadStoredCheckpoints(const CheckpointStorage& storage,
                                                std::optional<uint64_t> newest = std::nullopt);

struct RecoveredStore {
  DiscardPlan discard;                  // checkpoints beyond num_retained, to subsume now
  std::vector<Status> unreadable;       // one per skipped checkpoint
  uint64_t highest_checkpoint_id = 0;   // of any chk-N directory, complete or not
  std::vector<uint64_t> skipped_newer;  // completed, but newer than `newest`: not registered
};
Result<RecoveredStore> RegisterStoredCheckpoints(StoredCheckpoints stored,
                                                 CompletedCheckpointStore* store);
Result<RecoveredStore> RecoverCompletedCheckpointStore(
    const CheckpointStorage& storage, CompletedCheckpointStore* store,
    std::optional<uint64_t> newest = std::nullopt);

}  // namespace weir
