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
// that would leave the job directory. Thread-safe: immutable after construction.
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

// Where a user-supplied checkpoint path (a `_metadata` file or its chk-N directory) points.
struct CheckpointPointer {
  std::string job_dir;
  uint64_t checkpoint_id = 0;
  std::string metadata_path;
};

class CheckpointStorage {
 public:
  CheckpointStorage(std::shared_ptr<FileSystem> fs, std::string job_dir);
  static CheckpointStorage ForJob(std::shared_ptr<FileSystem> fs, std::string_view checkpoints_dir,
                                  std::string_view job_id);

  FileSystem& fs() const { return *fs_; }
  // The job directory as the one guarded place for deletions beneath it. Only for a directory
  // weir created (Initialize) or recognized (checkpoint/job_directory.h).
  OwnedDirectory owned() const { return OwnedDirectory(fs_, job_dir_); }
  const std::shared_ptr<FileSystem>& shared_fs() const { return fs_; }
  const std::string& job_dir() const { return job_dir_; }

  static std::string CheckpointDirName(uint64_t checkpoint_id);  // "chk-7"
  // "chk-7" -> 7; nullopt for anything else.
  static std::optional<uint64_t> ParseCheckpointDirName(std::string_view name);

  std::string CheckpointDir(uint64_t checkpoint_id) const;
  std::string MetadataPath(uint64_t checkpoint_id) const;
  std::string SharedDir() const;
  std::string TaskOwnedDir() const;
  std::string MarkerPath() const;
  // Path, relative to the job directory, of a private file of checkpoint N.
  static std::string RelativeCheckpointFile(uint64_t checkpoint_id, std::string_view file_name);

  // Absolute path of a relative path from metadata; Corruption if it breaks
  // ValidateRelativePath's grammar (io/owned_directory.h).
  Result<std::string> ResolveRelative(std::string_view relative) const;

  // Creates the job directory with shared/, taskowned/ and its marker (kept if present).
  Status Initialize() const;
  // Whether the job directory holds weir's marker (a regular file with the marker's content).
  Result<bool> HasMarker() const;
  Status CreateCheckpointDir(uint64_t checkpoint_id) const;
  // Publishes checkpoint N's `_metadata` atomically; after this returns OK, N is complete.
  Status PublishMetadata(uint64_t checkpoint_id, std::string_view bytes) const;

  // Ids of chk-N directories that hold a `_metadata` file (completed checkpoints), ascending.
  Result<std::vector<uint64_t>> ListCompletedCheckpointIds() const;

  // Resolves a `_metadata` path or a chk-N directory; NotFound / InvalidArgument with the path
  // named when it is neither.
  static Result<CheckpointPointer> ResolvePointer(FileSystem& fs, const std::string& path);

 private:
  std::shared_ptr<FileSystem> fs_;
  std::string job_dir_;
};

}  // namespace weir
