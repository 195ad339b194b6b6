// CompletedCheckpointStore: the retained completed checkpoints, oldest first, and the
// SharedStateRegistry of their shared files.
//
// Add(N) registers N's shared files, then subsumes the oldest checkpoints beyond num_retained and
// releases their shared files. It decides only; the returned DiscardPlan is carried out by the
// CheckpointCleaner, off the critical path. The latest completed checkpoint is always retained.
// Not thread-safe: owned by the CheckpointCoordinator.
#pragma once

#include <cstdint>
#include <deque>
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

  // `m`'s _metadata is durable. FailedPrecondition if its id is not above the latest's.
  Result<DiscardPlan> Add(CheckpointMetadata m);

  const CheckpointMetadata* Latest() const;
  std::vector<uint64_t> RetainedIds() const;
  const std::deque<CheckpointMetadata>& checkpoints() const { return checkpoints_; }
  const SharedStateRegistry& registry() const { return registry_; }
  int num_retained() const { return num_retained_; }

 private:
  int num_retained_;
  std::deque<CheckpointMetadata> checkpoints_;
  SharedStateRegistry registry_;
};

// Rebuilds a store from the completed checkpoints in `storage` (after a process restart).
// Checkpoints whose _metadata cannot be read are skipped and reported; nothing they reference is
// registered, so nothing is deleted on their account.
struct RecoveredStore {
  DiscardPlan discard;                 // checkpoints beyond num_retained, to subsume now
  std::vector<Status> unreadable;      // one per skipped checkpoint
  uint64_t highest_checkpoint_id = 0;  // of any chk-N directory, complete or not
};
Result<RecoveredStore> RecoverCompletedCheckpointStore(const CheckpointStorage& storage,
                                                       CompletedCheckpointStore* store);

}  // namespace weir
