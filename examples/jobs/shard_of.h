// The shard of a scaled-out job a key belongs to: its key group (as the runtime computes it from
// the key's serialized bytes) mapped onto `shards` contiguous ranges of key groups, as subtasks
// own them. `weir nats produce --shards` partitions events with it; nats-aggregate run as one
// shard checks every event against it.
#pragma once

#include <cstdint>
#include <string>

#include "weir/key_group.h"
#include "weir/serializer.h"

namespace weir::examples {

inline int ShardOfKey(uint64_t key, int shards, int max_parallelism = kDefaultMaxParallelism) {
  std::string bytes;
  DefaultSerializer<uint64_t>()->Serialize(key, &bytes);
  return SubtaskForKeyGroup(max_parallelism, shards, AssignToKeyGroup(bytes, max_parallelism));
}

}  // namespace weir::examples
