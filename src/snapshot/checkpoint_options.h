// CheckpointOptions: what snapshot N is, carried with its trigger and its barriers to every task
// and handed to every backend (Flink's CheckpointOptions): a checkpoint that may build on
// earlier ones, a full checkpoint that reuses nothing (then incremental ones build on it), or a
// savepoint, written in a format of its own into its own directory (docs/savepoints.md).
#pragma once

#include <cstdint>
#include <memory>

#include "storage/checkpoint_storage.h"

namespace weir {

// canonical: key-group streams any backend restores, at any parallelism. native: the backend's
// own files (RocksDB: its SSTs), fast to take and to restore, restored by the same backend only.
enum class SavepointFormat : uint8_t { kCanonical, kNative };
const char* SavepointFormatName(SavepointFormat format);  // "CANONICAL", "NATIVE"

struct CheckpointOptions {
  enum class Type : uint8_t { kCheckpoint, kFullCheckpoint, kSavepoint };
  Type type = Type::kCheckpoint;
  SavepointFormat format = SavepointFormat::kCanonical;  // savepoints only
  // Savepoints only: the savepoint directory (Layout::kSavepoint) every file goes to.
  std::shared_ptr<const CheckpointStorage> target;
  // Savepoints only: the job stops with it (stop-with-savepoint): sources emit nothing after its
  // barrier unless it is aborted.
  bool terminate = false;

  bool is_savepoint() const { return type == Type::kSavepoint; }
  // Whether the snapshot may reference files of earlier checkpoints.
  bool may_reuse_files() const { return type == Type::kCheckpoint; }

  static CheckpointOptions Checkpoint() { return {}; }
  static CheckpointOptions FullCheckpoint() { return {Type::kFullCheckpoint, {}, nullptr, false}; }
  static CheckpointOptions Savepoint(SavepointFormat format,
                                     std::shared_ptr<const CheckpointStorage> target,
                                     bool terminate = false) {
    return {Type::kSavepoint, format, std::move(target), terminate};
  }
};

}  // namespace weir
