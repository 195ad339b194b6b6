#include "snapshot/snapshot_strategy_factory.h"

#include "snapshot/full_snapshot_strategy.h"
#include "snapshot/incremental_snapshot_strategy.h"

namespace weir {

std::unique_ptr<SnapshotStrategy> CreateSnapshotStrategy(const Configuration& config,
                                                         RocksDbKeyedStateBackend& backend,
                                                         const CheckpointStorage& storage,
                                                         ThreadPool& io_pool) {
  if (config.GetBool(config::kIncremental)) {
    return std::make_unique<IncrementalSnapshotStrategy>(backend, storage, io_pool);
  }
  return std::make_unique<FullSnapshotStrategy>(backend, storage);
}

RocksDbTuning RocksDbTuningFromConfig(const Configuration& config) {
  RocksDbTuning t;
  t.async_flush = config.GetBool(config::kAsyncFlush);
  t.compaction_style = config.GetString(config::kCompactionStyle) == "UNIVERSAL"
                           ? RocksDbCompactionStyle::kUniversal
                           : RocksDbCompactionStyle::kLevel;
  t.level0_file_num_compaction_trigger = static_cast<int>(config.GetInt(config::kLevel0Trigger));
  t.max_size_amplification_percent = static_cast<int>(config.GetInt(config::kMaxSizeAmplification));
  return t;
}

}  // namespace weir
