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
