// The standby side of a shard (cluster.standby-replicas): this process is not the shard's owner
// but may take it over, so it keeps the files of the shard's latest completed checkpoint where its
// own run of the shard would look for local recovery copies (state/rocksdb/standby_copy.h). A
// takeover here then fetches only what the newest checkpoints added.
#pragma once

#include <atomic>
#include <string>

#include "state/rocksdb/standby_copy.h"
#include "weir/config.h"

namespace weir::cluster {

// Reads the checkpoint at `metadata_path` (the shard's latest, as etcd records it; read with the
// job's storage settings from `config`) and keeps a standby copy of each of its backends' state
// under <local_recovery_dir>/<backend id>. A backend id that is not a plain identifier is
// Corruption naming the metadata. `cancelled` stops it (Aborted).
Result<StandbyCopyStats> KeepShardStandbyCopy(const Configuration& config,
                                              const std::string& metadata_path,
                                              const std::string& local_recovery_dir,
                                              const std::atomic<bool>& cancelled);

}  // namespace weir::cluster
