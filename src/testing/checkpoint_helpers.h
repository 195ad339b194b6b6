// Test helpers that drive a checkpoint by hand (sync part, async part, `_metadata`) the way the
// coordinator will, and damage files the way storage does.
#pragma once

#include <cstdint>
#include <string>

#include "checkpoint/checkpoint_metadata.h"
#include "state/rocksdb/rocksdb_keyed_state_backend.h"
#include "storage/checkpoint_storage.h"

namespace weir::testing {

// Full checkpoint `id` of `backend`, completed (metadata published).
Result<CheckpointMetadata> TakeFullCheckpoint(RocksDbKeyedStateBackend& backend,
                                              const CheckpointStorage& storage, uint64_t id,
                                              const std::string& job_id = "test-job");

// Damage a file in place.
void FlipByte(const std::string& path, uint64_t offset);
void Truncate(const std::string& path, uint64_t size);
uint64_t FileSize(const std::string& path);

}  // namespace weir::testing

#include "checkpoint/checkpoint_coordinator.h"
#include "state/rocksdb/incremental_snapshot_strategy.h"

namespace weir::testing {

// Forwards a coordinator's notifications to an incremental strategy (the runtime's subtasks do
// this in production).
class StrategyListener final : public CheckpointListener {
 public:
  explicit StrategyListener(IncrementalSnapshotStrategy* strategy) : strategy_(strategy) {}
  void NotifyCheckpointComplete(uint64_t id) override { strategy_->NotifyCheckpointComplete(id); }
  void NotifyCheckpointAborted(uint64_t id) override { strategy_->NotifyCheckpointAborted(id); }

 private:
  IncrementalSnapshotStrategy* strategy_;
};

struct Participant {
  RocksDbKeyedStateBackend* backend;
  SnapshotStrategy* strategy;
};

// One checkpoint through the coordinator: every sync part, then every async part, then the
// acknowledgements. Returns the completed checkpoint's metadata; on any failure the checkpoint
// is aborted and the failure returned.
Result<CheckpointMetadata> TakeCheckpoint(CheckpointCoordinator& coordinator,
                                          const std::vector<Participant>& participants,
                                          CheckpointKind kind = CheckpointKind::kIncremental);

}  // namespace weir::testing
