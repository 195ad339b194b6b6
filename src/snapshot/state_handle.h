// State handles: what a snapshot hands to the coordinator, and what checkpoint metadata records
// so that restore can find, check and read the persisted bytes again.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "weir/key_group.h"
#include "weir/operator_state.h"
#include "weir/state.h"

namespace weir {

enum class BackendSnapshotKind : uint8_t { kFull = 0, kIncremental = 1 };

enum class StateFileRole : uint8_t {
  kFullSnapshot = 1,  // a key-group stream (.kgs) holding all of one backend's state
  kShared = 2,        // in shared/, may be referenced by later checkpoints (an SST)
  kPrivate = 3,       // belongs to one checkpoint only (MANIFEST, CURRENT, OPTIONS)
};

const char* StateFileRoleName(StateFileRole role);

// A file in checkpoint storage.
struct StateFileHandle {
  std::string path;  // relative to the job directory
  uint64_t size = 0;
  uint64_t checksum = 0;  // XXH3-64 of the file's bytes
  StateFileRole role = StateFileRole::kFullSnapshot;
  std::string local_name;              // RocksDB's own name for it; empty for a full snapshot
  uint64_t written_by_checkpoint = 0;  // the checkpoint that uploaded it
  bool operator==(const StateFileHandle&) const = default;
};

// Everything one backend's snapshot consists of.
struct KeyedStateHandle {
  std::string backend_id;
  int max_parallelism = kDefaultMaxParallelism;
  KeyGroupRange key_group_range;
  BackendSnapshotKind kind = BackendSnapshotKind::kFull;
  uint64_t checkpointed_bytes = 0;  // bytes this checkpoint wrote for this backend
  uint64_t full_bytes = 0;          // bytes of all files this backend's state needs
  std::vector<StateMetaInfo> states;
  std::vector<StateFileHandle> files;
  bool operator==(const KeyedStateHandle&) const = default;
};

// One named list of a subtask's operator state (weir/operator_state.h).
struct OperatorStateList {
  std::string name;
  OperatorStateMode mode = OperatorStateMode::kSplit;
  std::vector<std::string> entries;
  bool operator==(const OperatorStateList&) const = default;
};

// A subtask's non-keyed state (a source's positions, a sink's pending output): small, so it lives
// inline in `_metadata`. Lists are redistributed when the parallelism changes; opaque bytes
// (what an operator's SnapshotState returned) restore only at the same parallelism.
struct OperatorStateHandle {
  std::string operator_uid;
  int subtask = 0;
  std::optional<std::string> opaque;
  std::vector<OperatorStateList> lists;
  uint64_t Bytes() const;  // of the opaque state and the entries
  bool operator==(const OperatorStateHandle&) const = default;
};

}  // namespace weir
