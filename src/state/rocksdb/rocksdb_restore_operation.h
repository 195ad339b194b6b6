// Restore: builds a fresh RocksDbKeyedStateBackend from one backend's part of a checkpoint.
//
// Full snapshot: the key-group stream is loaded row by row into a new database. Incremental
// snapshot: its shared and private files are fetched into <local_dir>/db under their RocksDB
// names (hard links when checkpoint storage is on the same local file system, copies otherwise;
// in parallel on `io_pool` when given) and RocksDB opens them.
//
// Every file of the handle is verified (present, size, checksum) before the backend is opened;
// any damage is reported with the checkpoint id and the file's path. Full snapshots restore into
// any key-group range (after a change of parallelism: the key groups of the range, from every
// handle that holds some); an incremental snapshot only into its own range, one handle. A
// changed max parallelism is refused. On any failure nothing is left behind: the half-built
// backend is closed and its local directory removed.
#pragma once

#include <memory>
#include <vector>

#include "common/thread_pool.h"
#include "snapshot/state_handle.h"
#include "state/rocksdb/rocksdb_keyed_state_backend.h"
#include "storage/checkpoint_storage.h"

namespace weir {

Result<std::unique_ptr<RocksDbKeyedStateBackend>> RestoreKeyedStateBackend(
    const CheckpointStorage& storage, uint64_t checkpoint_id,
    const std::vector<KeyedStateHandle>& handles, RocksDbBackendOptions options,
    ThreadPool* io_pool = nullptr);
// One handle: the parallelism did not change.
Result<std::unique_ptr<RocksDbKeyedStateBackend>> RestoreKeyedStateBackend(
    const CheckpointStorage& storage, uint64_t checkpoint_id, const KeyedStateHandle& handle,
    RocksDbBackendOptions options, ThreadPool* io_pool = nullptr);

}  // namespace weir
