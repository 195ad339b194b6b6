// Restore: builds a fresh RocksDbKeyedStateBackend from one backend's part of a checkpoint.
//
// Full snapshot: the key-group stream is loaded row by row into a new database. Incremental
// snapshot: its shared and private files are fetched into <local_dir>/db under their RocksDB
// names (hard links when checkpoint storage is on the same local file system, copies otherwise;
// in parallel on `io_pool` when given) and RocksDB opens them.
//
// Every file of the handle is verified (present, size, checksum) before the backend is opened;
// any damage is reported with the checkpoint id and the file's path. After a change of
// parallelism a backend restores from every handle that holds some of its key groups: full
// snapshots by reading only those groups of each key-group stream; incremental ones by opening
// the database of the handle sharing the most key groups (IncrementalRestoreBase), dropping the
// key groups outside the range (DeleteRange, then a compaction of those ranges) and bringing in
// the others' rows of the range through a snapshot view of each. A changed max parallelism is
// refused. On any failure nothing is left behind: the half-built
// backend is closed and its local directory removed.
#pragma once

#include <memory>
#include <vector>

#include "common/thread_pool.h"
#include "snapshot/state_handle.h"
#include "state/rocksdb/rocksdb_keyed_state_backend.h"
#include "storage/checkpoint_storage.h"

namespace weir {

// The incremental handle whose database a backend owning `range` restores and builds on: the one
// sharing the most key groups with it. nullptr when no handle is incremental.
const KeyedStateHandle* IncrementalRestoreBase(const std::vector<KeyedStateHandle>& handles,
                                               KeyGroupRange range);

Result<std::unique_ptr<RocksDbKeyedStateBackend>> RestoreKeyedStateBackend(
    const CheckpointStorage& storage, uint64_t checkpoint_id,
    const std::vector<KeyedStateHandle>& handles, RocksDbBackendOptions options,
    ThreadPool* io_pool = nullptr);
// One handle: the parallelism did not change.
Result<std::unique_ptr<RocksDbKeyedStateBackend>> RestoreKeyedStateBackend(
    const CheckpointStorage& storage, uint64_t checkpoint_id, const KeyedStateHandle& handle,
    RocksDbBackendOptions options, ThreadPool* io_pool = nullptr);

}  // namespace weir
