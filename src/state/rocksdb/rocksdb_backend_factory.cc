#include "state/rocksdb/rocksdb_backend_factory.h"

#include <rocksdb/version.h>

#include "snapshot/full_snapshot_strategy.h"
#include "state/rocksdb/incremental_snapshot_strategy.h"
#include "state/rocksdb/rocksdb_restore_operation.h"
#include "state/rocksdb/rocksdb_shared_memory.h"
#include "state/rocksdb/rocksdb_write_back_cache.h"

namespace weir {

Result<std::unique_ptr<CheckpointableKeyedStateBackend>> CreateRocksDbKeyedStateBackend(
    const KeyedStateBackendParameters& parameters, const KeyedStateRestore* restore) {
  Configuration defaults;
  const Configuration& config = parameters.config != nullptr ? *parameters.config : defaults;
  RocksDbBackendOptions options;
  options.backend_id = parameters.backend_id;
  options.local_dir = parameters.local_dir;
  options.local_recovery_dir = parameters.local_recovery_dir;
  options.max_parallelism = parameters.max_parallelism;
  options.key_group_range = parameters.key_group_range;
  options.tuning = RocksDbTuningFromConfig(config);
  options.changes_to_replay = parameters.changes_to_replay;
  if (auto budget = RocksDbMemoryBudgetFromConfig(config, parameters.slot)) {
    options.tuning.memory = RocksDbSharedMemory::For(*budget);
    options.tuning.write_back_cache = options.tuning.memory->write_back_cache();
  } else if (config.Get(config::kWriteBackCache)) {
    options.tuning.write_back_cache =
        std::make_shared<WriteBackCacheBudget>(config.Get(config::kWriteBackCacheSize).bytes);
  }
  // The base of the next incremental checkpoint: the handle whose database was restored. After
  // a rescale its files this backend still has (those without dropped key groups) are
  // referenced, the rest uploaded.
  const KeyedStateHandle* handle = nullptr;
  if (restore != nullptr) {
    handle = IncrementalRestoreBase(restore->handles, parameters.key_group_range);
    if (handle == nullptr && restore->handles.size() == 1) handle = &restore->handles.front();
  }
  std::unique_ptr<RocksDbKeyedStateBackend> backend;
  if (restore != nullptr) {
    WEIR_ASSIGN_OR_RETURN(backend,
                          RestoreKeyedStateBackend(*restore->storage, restore->checkpoint_id,
                                                   restore->handles, options, parameters.io_pool));
  } else {
    WEIR_ASSIGN_OR_RETURN(backend, RocksDbKeyedStateBackend::Open(options));
  }
  if (parameters.checkpoint_storage != nullptr && parameters.io_pool != nullptr) {
    backend->SetSnapshotStrategy(
        CreateSnapshotStrategy(config, *backend, *parameters.checkpoint_storage,
                               *parameters.io_pool),
        std::make_unique<IncrementalSnapshotStrategy>(*backend, *parameters.checkpoint_storage,
                                                      *parameters.io_pool,
                                                      /*local_copies=*/false));
    if (handle != nullptr) {
      // The native strategy too: a changelog backend's next materialization builds on the
      // restored one (or on a restored incremental checkpoint), when the job owns it.
      backend->snapshot_strategy()->RestoredFrom(restore->checkpoint_id, *handle, restore->owned);
      backend->native_snapshot_strategy()->RestoredFrom(restore->checkpoint_id, *handle,
                                                        restore->owned);
    }
  }
  return std::unique_ptr<CheckpointableKeyedStateBackend>(std::move(backend));
}

std::unique_ptr<SnapshotStrategy> CreateSnapshotStrategy(const Configuration& config,
                                                         RocksDbKeyedStateBackend& backend,
                                                         const CheckpointStorage& storage,
                                                         ThreadPool& io_pool) {
  if (config.Get(config::kIncremental)) {
    return std::make_unique<IncrementalSnapshotStrategy>(backend, storage, io_pool);
  }
  return std::make_unique<FullSnapshotStrategy>(backend, storage);
}

std::string RocksDbLibraryVersion() {
  return std::to_string(ROCKSDB_MAJOR) + "." + std::to_string(ROCKSDB_MINOR) + "." +
         std::to_string(ROCKSDB_PATCH);
}

RocksDbTuning RocksDbTuningFromConfig(const Configuration& config) {
  RocksDbTuning t;
  t.async_flush = config.Get(config::kAsyncFlush);
  t.compaction_style = config.Get(config::kCompactionStyle);
  t.level0_file_num_compaction_trigger = static_cast<int>(config.Get(config::kLevel0Trigger));
  t.max_size_amplification_percent = static_cast<int>(config.Get(config::kMaxSizeAmplification));
  t.restore_by_ingestion = config.Get(config::kIngestRestore);
  t.memtable = config.Get(config::kMemtable);
  t.write_back_ingest_min_rows = static_cast<size_t>(config.Get(config::kWriteBackIngestMinRows));
  return t;
}

}  // namespace weir
