// Chooses a backend's SnapshotStrategy from the configuration: `state.backend.incremental`
// (default false) picks IncrementalSnapshotStrategy over FullSnapshotStrategy; and the RocksDB
// tuning that goes with it.
#pragma once

#include <memory>

#include "common/thread_pool.h"
#include "snapshot/snapshot_strategy.h"
#include "state/rocksdb/rocksdb_keyed_state_backend.h"
#include "storage/checkpoint_storage.h"
#include "weir/config.h"

namespace weir {

// All references must outlive the strategy. `io_pool` is used by incremental checkpoints (size it
// with state.backend.rocksdb.checkpoint.transfer.thread.num).
std::unique_ptr<SnapshotStrategy> CreateSnapshotStrategy(const Configuration& config,
                                                         RocksDbKeyedStateBackend& backend,
                                                         const CheckpointStorage& storage,
                                                         ThreadPool& io_pool);

// The RocksDB tuning of keyed state from the state.backend.rocksdb.* keys.
RocksDbTuning RocksDbTuningFromConfig(const Configuration& config);

}  // namespace weir
