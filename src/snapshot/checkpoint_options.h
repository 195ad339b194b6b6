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

// kMaterialization: a changelog backend's incremental materialization of its inner backend
// (state/changelog/): built on the inner backend's latest confirmed materialization, every file
// in shared/ and written outside any checkpoint (written_by_checkpoint 0), for backends whose
// SupportsIncrementalMaterialization() says so.
struct CheckpointOptions {
  enum class Type : uint8_t {
    kCheckpoint,
    kFullCheckpoint,
    kSavepoint,
    kMaterialization,
    kFullMaterialization,  // a materialization that reuses no earlier file
  };
  Type type = Type::kCheckpoint;
  SavepointFormat format = SavepointFormat::kCanonical;  // savepoints only
  // Savepoints only: the savepoint directory (Layout::kSavepoint) every file goes to.
  std::shared_ptr<const CheckpointStorage> target;
  // Savepoints only: the job stops with it (stop-with-savepoint): sources emit nothing after its
  // barrier unless it is aborted.
  bool terminate = false;

  bool is_savepoint() const { return type == Type::kSavepoint; }
  bool is_materialization() const {
    return type == Type::kMaterialization || type == Type::kFullMaterialization;
  }
  // Whether the snapshot may reference files of earlier checkpoints (of earlier
  // materializations, for a materialization).
  bool may_reuse_files() const {
    return type == Type::kCheckpoint || type == Type::kMaterialization;
  }

  static CheckpointOptions Checkpoint() { return {}; }
  static CheckpointOptions FullCheckpoint() { return {Type::kFullCheckpoint, {}, nullptr, false}; }
  static CheckpointOptions Materialization(bool reuse_files = true) {
    return {reuse_files ? Type::kMaterialization : Type::kFullMaterialization, {}, nullptr, false};
  }
  static CheckpointOptions Savepoint(SavepointFormat format,
                                     std::shared_ptr<const CheckpointStorage> target,
                                     bool terminate = false) {
    return {Type::kSavepoint, format, std::move(target), terminate};
  }
};

}  // namespace weir
