#include "weir/key_group.h"

#include "common/checksum.h"
#include "weir/state.h"

namespace weir {

Status ValidateMaxParallelism(int max_parallelism) {
  if (max_parallelism < 1 || max_parallelism > kUpperBoundMaxParallelism) {
    return Status::InvalidArgument("max parallelism " + std::to_string(max_parallelism) +
                                   " is outside 1.." + std::to_string(kUpperBoundMaxParallelism));
  }
  return Status::OK();
}

int AssignToKeyGroup(std::string_view serialized_key, int max_parallelism) {
  return static_cast<int>(Hash64(serialized_key) % static_cast<uint64_t>(max_parallelism));
}

int KeyGroupPrefixBytes(int max_parallelism) { return max_parallelism <= 128 ? 1 : 2; }

int SubtaskForKeyGroup(int max_parallelism, int parallelism, int key_group) {
  return static_cast<int>(static_cast<int64_t>(key_group) * parallelism / max_parallelism);
}

KeyGroupRange KeyGroupRange::ForSubtask(int max_parallelism, int parallelism, int index) {
  const auto start =
      (static_cast<int64_t>(index) * max_parallelism + parallelism - 1) / parallelism;
  const auto end =
      (static_cast<int64_t>(index + 1) * max_parallelism + parallelism - 1) / parallelism - 1;
  return {static_cast<int>(start), static_cast<int>(end)};
}

std::string KeyGroupRange::ToString() const {
  return "[" + std::to_string(start) + ", " + std::to_string(end) + "]";
}

const char* StateKindName(StateKind kind) {
  switch (kind) {
    case StateKind::kValue:
      return "value";
    case StateKind::kList:
      return "list";
    case StateKind::kMap:
      return "map";
    case StateKind::kReducing:
      return "reducing";
    case StateKind::kAggregating:
      return "aggregating";
  }
  return "unknown";
}

std::string DescribeState(const StateMetaInfo& meta) {
  std::string out =
      std::string(StateKindName(meta.kind)) + " state with serializer " + meta.value_serializer;
  if (meta.kind == StateKind::kMap) out += " and key serializer " + meta.user_key_serializer;
  if (meta.ttl) out += ", with a time-to-live";
  return out;
}

}  // namespace weir
