// Key groups: the unit in which keyed state is split between subtasks and moved on rescaling.
//
//   key_group(key) = XXH3-64(serialized key) mod max_parallelism
//
// XXH3-64 (xxHash 0.8, seed 0) over the key's serialized bytes is stable across machines and
// releases; std::hash is never used. max_parallelism is 1..32768 (default 128). A subtask owns a
// contiguous KeyGroupRange; KeyGroupRange::ForSubtask splits the groups as evenly as possible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "weir/status.h"

namespace weir {

inline constexpr int kDefaultMaxParallelism = 128;
inline constexpr int kUpperBoundMaxParallelism = 32768;

Status ValidateMaxParallelism(int max_parallelism);

int AssignToKeyGroup(std::string_view serialized_key, int max_parallelism);

// Bytes of the key-group prefix of every RocksDB key: 1 when max_parallelism <= 128, else 2.
int KeyGroupPrefixBytes(int max_parallelism);
// The subtask (of `parallelism`) whose KeyGroupRange::ForSubtask holds `key_group`.
int SubtaskForKeyGroup(int max_parallelism, int parallelism, int key_group);

// The inclusive range [start, end] of key groups; empty when end < start.
struct KeyGroupRange {
  int start = 0;
  int end = -1;

  static KeyGroupRange Of(int start, int end) { return {start, end}; }
  static KeyGroupRange All(int max_parallelism) { return {0, max_parallelism - 1}; }
  // The groups that subtask `index` of `parallelism` owns.
  static KeyGroupRange ForSubtask(int max_parallelism, int parallelism, int index);

  bool empty() const { return end < start; }
  int size() const { return empty() ? 0 : end - start + 1; }
  bool Contains(int key_group) const { return key_group >= start && key_group <= end; }
  // The key groups both hold (empty when none).
  KeyGroupRange Intersect(const KeyGroupRange& o) const {
    return {start > o.start ? start : o.start, end < o.end ? end : o.end};
  }
  bool operator==(const KeyGroupRange&) const = default;
  std::string ToString() const;  // "[0, 127]"
};

}  // namespace weir
