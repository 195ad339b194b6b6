// CheckpointMetadata: the content of chk-<N>/_metadata, the root of a completed checkpoint.
// Byte format (versioned, checksummed) in docs/checkpoint_format.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/state_handle.h"
#include "storage/checkpoint_storage.h"

namespace weir {

// A savepoint is a snapshot the user asked for, in its own directory (docs/savepoints.md): in the
// canonical format (key-group streams any backend restores) or the backend's native one.
enum class CheckpointKind : uint8_t {
  kFull = 0,
  kIncremental = 1,
  kCanonicalSavepoint = 2,
  kNativeSavepoint = 3,
  kChangelog = 4,  // the backends' changelog handles: a materialization plus the log after it
};
const char* CheckpointKindName(CheckpointKind kind);
inline bool IsSavepoint(CheckpointKind kind) {
  return kind == CheckpointKind::kCanonicalSavepoint || kind == CheckpointKind::kNativeSavepoint;
}

// Version 2 adds the job's operators and the operator state of each subtask (opaque bytes);
// version 3 stores operator state as opaque bytes and named lists. Versions 1 and 2 are still
// read (their operator state as opaque bytes). Version 4 adds changelog checkpoints: backends of
// kind kChangelog, files of roles kChangelog and kMaterialization, and the log segments.
// Version 5 adds incremental materializations: a changelog backend's materialization may be the
// inner backend's native files (kShared SSTs, kMaterialization files with a local name) and the
// states they hold.
inline constexpr uint32_t kMetadataFormatVersion = 5;
// The largest `_metadata` weir reads (operator state is inline, so it is more than handles).
inline constexpr uint64_t kMaxMetadataBytes = uint64_t{256} << 20;

// An operator of the job that took the checkpoint: restore checks the resumed job against these.
struct OperatorInfo {
  std::string uid;
  int parallelism = 1;
  bool operator==(const OperatorInfo&) const = default;
};

struct CheckpointMetadata {
  uint64_t checkpoint_id = 0;
  CheckpointKind kind = CheckpointKind::kFull;
  int64_t trigger_unix_ms = 0;
  int64_t completed_unix_ms = 0;
  std::string job_id;
  std::vector<KeyedStateHandle> backends;
  std::vector<OperatorInfo> operators;  // empty for checkpoints without a job graph
  std::vector<OperatorStateHandle> operator_states;

  uint64_t FullBytes() const;          // sum over backends
  uint64_t CheckpointedBytes() const;  // sum over backends
  size_t FileCount() const;
  bool operator==(const CheckpointMetadata&) const = default;
};

std::string EncodeCheckpointMetadata(const CheckpointMetadata& metadata);
// `source` names the bytes in error messages (usually the file's path).
Result<CheckpointMetadata> DecodeCheckpointMetadata(std::string_view bytes,
                                                    const std::string& source);
Result<CheckpointMetadata> ReadCheckpointMetadata(FileSystem& fs, const std::string& path);

// Publishes `metadata` as chk-<id>/_metadata (atomically). When this returns OK the checkpoint is
// complete; every file it references must already be durable.
Status WriteCheckpointMetadata(const CheckpointStorage& storage,
                               const CheckpointMetadata& metadata);

}  // namespace weir
