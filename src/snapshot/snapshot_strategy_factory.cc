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

}  // namespace weir
