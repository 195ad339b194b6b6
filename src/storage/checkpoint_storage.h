// CheckpointStorage: the layout of one job's checkpoints on a FileSystem, and the one place that
// builds their paths.
//
//   <checkpoints dir>/<job id>/           the job directory
//       chk-<N>/_metadata                 checkpoint N's root, published last and atomically
//       chk-<N>/...                       private files of checkpoint N
//       shared/...                        files several checkpoints may reference
//       taskowned/...                     files owned by the running tasks
//
// Paths stored in metadata are relative to the job directory ("chk-3/op_0.kgs"), so a job
// directory copied or moved elsewhere restores as is. ResolveRelative() rejects any relative path
// that would leave the job directory.
//
// A savepoint has the other layout (Layout::kSavepoint): one self-contained directory that holds
// its `_metadata` and every file it references, at paths relative to itself:
//
//   savepoint-<short job id>-<random>/    the savepoint directory (its name is free: relocatable)
//       _metadata                         its root, published last and atomically
//       <backend id>.kgs                  canonical format: one key-group stream per backend
//       <backend id>/...                  native format: the backend's own files (RocksDB SSTs)
//
// Thread-safe: immutable after construction.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/file_system.h"
#include "io/owned_directory.h"
#include "weir/status.h"

namespace weir {

inline constexpr std::string_view kMetadataFileName = "_metadata";
inline constexpr std::string_view kSharedDirName = "shared";
inline constexpr std::string_view kTaskOwnedDirName = "taskowned";
// Written when weir creates a job directory: what recognizes the directory as weir's.
inline constexpr std::string_view kJobMarkerFileName = "_weir_job";
inline constexpr std::string_view kJobMarkerContent = "weir job directory 1\n";

// Where a user-supplied checkpoint path points: a `_metadata` file, its chk-N directory, or a
// savepoint directory.
struct CheckpointPointer {
  std::string job_dir;         // the job directory; for a savepoint, the savepoint directory itself
  uint64_t checkpoint_id = 0;  // from the chk-N name; 0 for a savepoint (its _metadata says)
  std::string metadata_path;
  bool savepoint = false;
};

class CheckpointStorage {
 public:
  enum class Layout : uint8_t { kJob, kSavepoint };
  CheckpointStorage(std::shared_ptr<FileSystem> fs, std::string job_dir,
                    Layout layout = Layout::kJob);
  static CheckpointStorage ForJob(std::shared_ptr<FileSystem> fs, std::string_view checkpoints_dir,
                                  std::string_view job_id);
  // The savepoint directory `savepoint_dir` (Layout::kSavepoint).
  static CheckpointStorage ForSavepoint(std::shared_ptr<FileSystem> fs,
                                        std::string_view savepoint_dir);
  bool is_savepoint() const { return layout_ == Layout::kSavepoint; }

  FileSystem& fs() const { return *fs_; }
  // The job directory as the one guarded place for deletions beneath it. Only for a directory
  // weir created (Initialize) or recognized (checkpoint/job_directory.h).
  OwnedDirectory owned() const { return OwnedDirectory(fs_, job_dir_); }
  const std::shared_ptr<FileSystem>& shared_fs() const { return fs_; }
  const std::string& job_dir() const { return job_dir_; }

  static std::string CheckpointDirName(uint64_t checkpoint_id);  // "chk-7"
  // "chk-7" -> 7; nullopt for anything else.
  static std::optional<uint64_t> ParseCheckpointDirName(std::string_view name);

  // Checkpoint N's directory and `_metadata`; a savepoint's are its directory and its root's.
  std::string CheckpointDir(uint64_t checkpoint_id) const;
  std::string MetadataPath(uint64_t checkpoint_id) const;
  std::string SharedDir() const;
  std::string TaskOwnedDir() const;
  std::string MarkerPath() const;
  // Path, relative to the job directory, of a private file of checkpoint N.
  static std::string RelativeCheckpointFile(uint64_t checkpoint_id, std::string_view file_name);
  // The same in this storage's layout: in a savepoint, relative to the savepoint directory.
  std::string RelativePrivateFile(uint64_t checkpoint_id, std::string_view file_name) const;

  // Absolute path of a relative path from metadata; Corruption if it breaks
  // ValidateRelativePath's grammar (io/owned_directory.h).
  Result<std::string> ResolveRelative(std::string_view relative) const;

  // Creates the job directory with shared/, taskowned/ and its marker (kept if present). Not for
  // a savepoint.
  Status Initialize() const;
  // Whether the job directory holds weir's marker (a regular file with the marker's content).
  Result<bool> HasMarker() const;
  Status CreateCheckpointDir(uint64_t checkpoint_id) const;
  // Publishes checkpoint N's `_metadata` atomically; after this returns OK, N is complete.
  Status PublishMetadata(uint64_t checkpoint_id, std::string_view bytes) const;

  // Ids of chk-N directories that hold a `_metadata` file (completed checkpoints), ascending.
  Result<std::vector<uint64_t>> ListCompletedCheckpointIds() const;

  // Resolves a `_metadata` path, a chk-N directory or a savepoint directory (any other
  // directory holding a `_metadata`); NotFound / InvalidArgument with the path named when it is
  // none of them.
  static Result<CheckpointPointer> ResolvePointer(FileSystem& fs, const std::string& path);
  // The storage a resolved pointer's checkpoint or savepoint lies in.
  static CheckpointStorage ForPointer(std::shared_ptr<FileSystem> fs,
                                      const CheckpointPointer& pointer);

 private:
  std::shared_ptr<FileSystem> fs_;
  std::string job_dir_;
  Layout layout_ = Layout::kJob;
};

}  // namespace weir
