// The options of a job run across processes (`weir worker`, cluster/): how many shards its key
// groups are split into and how long a worker's lease lives.
#pragma once

#include <chrono>
#include <vector>

#include "weir/config.h"
#include "weir/config_option.h"

namespace weir::config {

inline constexpr ConfigOption<int64_t> kClusterShards{
    .key = "cluster.shards",
    .default_value = 1,
    .description =
        "Shards of a job run by `weir worker`: contiguous key-group ranges, each with its own "
        "state, checkpoint chain and input subject, spread over the workers. Fixed at the job's "
        "first start; at most the max parallelism.",
    .min = 1,
    .max = 32768};
inline constexpr ConfigOption<std::chrono::milliseconds> kClusterLeaseTtl{
    .key = "cluster.lease-ttl",
    .default_value = std::chrono::seconds(5),
    .description =
        "A worker's etcd lease: renewed every third of it; a worker not heard from for this "
        "long loses its shards to the others (whole seconds, at least 1 s)."};

inline constexpr ConfigOption<int64_t> kClusterStandbyReplicas{
    .key = "cluster.standby-replicas",
    .default_value = 0,
    .description =
        "Standbys per shard (Kafka Streams' num.standby.replicas): other workers that keep a "
        "local copy of the shard's latest checkpoint, following each one, and take the shard "
        "over when its owner is lost, fetching only what the newest checkpoints added. Costs "
        "each standby the download of every checkpoint's new files and the disk of one copy; "
        "turns on state.backend.local-recovery for the shards' runs.",
    .min = 0,
    .max = 16};

inline std::vector<OptionDescriptor> ClusterOptions() {
  return {Describe(kClusterJob), Describe(kClusterShards), Describe(kClusterLeaseTtl),
          Describe(kClusterStandbyReplicas)};
}

}  // namespace weir::config
