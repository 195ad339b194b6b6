// CheckpointStorage: the layout of one job's checkpoints on a FileSystem, and the one place that
// builds their paths.
//
//   <checkpoints dir>/<job id>/           the job directory
//       chk-<N>/_metadata                 checkpoint N's root, published last and atomically
//       chk-<N>/...                       private files of checkpoint N
//       shared/...                        files several checkpoints may reference
//       taskowned/...                     files owned by the running tasks
//       _weir_changelog_dir               with dstl.dfs.base-path: where the job's log lies
//
// The state-change log of changelog checkpoints is written to shared/ (paths "shared/<file>"), or,
// with dstl.dfs.base-path, to a log directory of its own, <base path>/<job id>/ with its marker
// `_weir_changelog`; metadata names those files "dstl/<file>" and the job directory records the
// log directory's path in `_weir_changelog_dir`, so that the job directory stays the one root a
// checkpoint is read from. A log directory is read, and deleted in, only when it holds its marker.
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
#include <utility>
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
// The state-change log outside the job directory (dstl.dfs.base-path): the first component of
// its files' paths in metadata, the job directory's record of the log directory, and the log
// directory's marker.
inline constexpr std::string_view kChangelogDirPrefix = "dstl";
inline constexpr std::string_view kChangelogLocationFileName = "_weir_changelog_dir";
inline constexpr std::string_view kChangelogMarkerFileName = "_weir_changelog";
inline constexpr std::string_view kChangelogMarkerContent = "weir state-change log directory 1\n";

// A log directory's path as read from a job directory or built from configuration: absolute
// (local) or an s3:// URI, its components as ValidateRelativePath wants them. Corruption naming
// the path otherwise.
Status ValidateChangelogDir(std::string_view dir);

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
  // ValidateRelativePath's grammar (io/owned_directory.h). "dstl/<file>" lies in the log
  // directory: Corruption when this storage has none.
  Result<std::string> ResolveRelative(std::string_view relative) const;

  // The state-change log directory (empty: the log is written to shared/).
  const std::string& changelog_dir() const { return changelog_dir_; }
  // This storage with its log in `dir` (validated by the caller: ValidateChangelogDir).
  CheckpointStorage WithChangelogDir(std::string dir) const;
  // Where new log files go, and the path metadata names a new log file by.
  std::string ChangelogFilesDir() const;
  std::string RelativeChangelogFile(std::string_view file_name) const;
  // The log directory the job directory records (nullopt: none, the log is in shared/);
  // Corruption when the record is malformed.
  Result<std::optional<std::string>> RecordedChangelogDir() const;
  // This storage with the log directory its job directory records (itself when none).
  Result<CheckpointStorage> WithRecordedChangelogDir() const;
  // Whether the log directory holds its marker (false without a log directory).
  Result<bool> HasChangelogMarker() const;
  // The log directory as the guarded place for deletions in it: only once HasChangelogMarker().
  OwnedDirectory owned_changelog() const { return OwnedDirectory(fs_, changelog_dir_); }
  // Deletes the state file `relative` (from metadata) through the owned directory it lies in.
  Status DeleteStateFile(std::string_view relative) const;
  // FailedPrecondition when a component of `relative` above its last is a link (see
  // OwnedDirectory::CheckNoLinks), in whichever directory it lies.
  Status CheckStateFileNoLinks(std::string_view relative) const;

  // Creates the job directory with shared/, taskowned/ and its marker (kept if present); with a
  // log directory, that directory with its marker, recorded in the job directory. Not for a
  // savepoint.
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
  Status InitializeChangelogDir() const;
  // The owned directory a state file from metadata lies in, and its path there.
  Result<std::pair<OwnedDirectory, std::string_view>> OwnerOf(std::string_view relative) const;

  std::shared_ptr<FileSystem> fs_;
  std::string job_dir_;
  Layout layout_ = Layout::kJob;
  std::string changelog_dir_;
};

}  // namespace weir
