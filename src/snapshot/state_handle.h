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

// kChangelog: a materialization of the backend plus the state-change log after it (changelog
// checkpoints, docs/design.md).
enum class BackendSnapshotKind : uint8_t { kFull = 0, kIncremental = 1, kChangelog = 2 };

const char* BackendSnapshotKindName(BackendSnapshotKind kind);

enum class StateFileRole : uint8_t {
  kFullSnapshot = 1,  // a key-group stream (.kgs) holding all of one backend's state
  kShared = 2,        // in shared/, may be referenced by later checkpoints (an SST)
  kPrivate = 3,       // belongs to one checkpoint only (MANIFEST, CURRENT, OPTIONS)
  // In shared/, written by a changelog backend outside any checkpoint, and referenced by every
  // checkpoint that needs it (written_by_checkpoint 0):
  kChangelog = 4,        // a state-change log file (.dstl): chunks of several backends
  kMaterialization = 5,  // a key-group stream of one backend's state as of a log position
};
inline constexpr uint8_t kMaxStateFileRole = 5;

const char* StateFileRoleName(StateFileRole role);

// Files under shared/ that later checkpoints may reference: the registry counts their
// references, and they are deleted when no retained checkpoint needs them.
inline bool IsSharedRole(StateFileRole role) {
  return role == StateFileRole::kShared || role == StateFileRole::kChangelog ||
         role == StateFileRole::kMaterialization;
}

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

// One backend's changes first..last in a log file: the chunk at offset, length bytes long.
struct ChangelogSegmentHandle {
  std::string path;  // of the file, which is among the handle's files (role kChangelog)
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t first_sequence = 0;
  uint64_t last_sequence = 0;
  bool operator==(const ChangelogSegmentHandle&) const = default;
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
  // kChangelog only: the materialization holds the changes up to materialized_sequence; the
  // segments hold the changes after it, in order, up to changelog_sequence. The materialization
  // is none while the backend has never been materialized; else either one key-group stream (a
  // kMaterialization file without local_name) or an incremental one: the inner backend's
  // native files (kShared SSTs and kMaterialization files named by their local_name) holding
  // materialization_states.
  uint64_t materialized_sequence = 0;
  uint64_t changelog_sequence = 0;
  std::vector<ChangelogSegmentHandle> changelog;
  std::vector<StateMetaInfo> materialization_states;
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
