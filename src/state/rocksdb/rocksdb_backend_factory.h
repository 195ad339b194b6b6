// The "rocksdb" state backend as the runtime makes it: RocksDbKeyedStateBackend, empty or restored
// (rocksdb_restore_operation.h), with the snapshot strategy `state.backend.incremental` picks
// (full by default, IncrementalSnapshotStrategy when true) and the RocksDB tuning of the
// state.backend.rocksdb.* keys.
#pragma once

#include <memory>

#include "common/thread_pool.h"
#include "snapshot/checkpointable_keyed_state_backend.h"
#include "snapshot/snapshot_strategy.h"
#include "state/rocksdb/rocksdb_keyed_state_backend.h"
#include "storage/checkpoint_storage.h"
#include "weir/config.h"

namespace weir {

// The KeyedStateBackendFactory of "rocksdb". A restored backend whose checkpoint the job owns
// builds its next incremental checkpoint on the restored files.
Result<std::unique_ptr<CheckpointableKeyedStateBackend>> CreateRocksDbKeyedStateBackend(
    const KeyedStateBackendParameters& parameters, const KeyedStateRestore* restore);

// All references must outlive the strategy. `io_pool` is used by incremental checkpoints (size it
// with state.backend.rocksdb.checkpoint.transfer.thread.num).
std::unique_ptr<SnapshotStrategy> CreateSnapshotStrategy(const Configuration& config,
                                                         RocksDbKeyedStateBackend& backend,
                                                         const CheckpointStorage& storage,
                                                         ThreadPool& io_pool);

// The RocksDB tuning of keyed state from the state.backend.rocksdb.* keys.
RocksDbTuning RocksDbTuningFromConfig(const Configuration& config);

// The version of the RocksDB library weir runs on ("7.8.3").
std::string RocksDbLibraryVersion();

}  // namespace weir
