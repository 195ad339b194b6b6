#include "checkpoint/job_directory.h"

#include <algorithm>

#include "checkpoint/checkpoint_metadata.h"

namespace weir {

Result<bool> RecognizeJobDirectory(const CheckpointStorage& storage) {
  auto st = storage.fs().Stat(storage.job_dir());
  if (!st.ok()) return st.status();
  if (st->is_symlink || !st->is_directory) return false;
  WEIR_ASSIGN_OR_RETURN(bool marked, storage.HasMarker());
  if (marked) return true;
  // A layout older than the marker: one checkpoint that reads is proof enough.
  WEIR_ASSIGN_OR_RETURN(auto ids, storage.ListCompletedCheckpointIds());
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    if (ReadCheckpointMetadata(storage.fs(), storage.MetadataPath(*it)).ok()) return true;
  }
  return false;
}

Result<bool> RecognizeSavepointDirectory(FileSystem& fs, const std::string& dir) {
  auto st = fs.Stat(dir);
  if (!st.ok()) return st.status();
  if (st->is_symlink || !st->is_directory) return false;
  const std::string metadata = JoinPath(dir, kMetadataFileName);
  WEIR_ASSIGN_OR_RETURN(bool exists, fs.Exists(metadata));
  if (!exists) return false;
  auto m = ReadCheckpointMetadata(fs, metadata);
  return m.ok() && IsSavepoint(m->kind);
}

Status DeleteJobDirectory(const CheckpointStorage& storage) {
  WEIR_ASSIGN_OR_RETURN(bool recognized, RecognizeJobDirectory(storage));
  if (!recognized) {
    return Status::FailedPrecondition(storage.job_dir() +
                                      ": not a weir job directory; nothing deleted");
  }
  const OwnedDirectory owned = storage.owned();
  WEIR_ASSIGN_OR_RETURN(auto entries, storage.fs().ListDir(storage.job_dir()));
  Status first_error;
  const auto keep_first = [&](Status s) {
    if (!s.ok() && !s.IsNotFound() && first_error.ok()) first_error = s;
  };
  // The log directory of dstl.dfs.base-path goes first, while the job directory still says
  // where it is (only a directory with weir's log marker).
  auto with_log = storage.WithRecordedChangelogDir();
  if (with_log.ok() && !with_log->changelog_dir().empty()) {
    keep_first(with_log->owned_changelog().DeleteAll());
  }
  keep_first(owned.DeleteFile(kChangelogLocationFileName));
  for (const auto& e : entries) {
    if (e.name == kSharedDirName || e.name == kTaskOwnedDirName ||
        CheckpointStorage::ParseCheckpointDirName(e.name)) {
      keep_first(owned.DeleteRecursively(e.name));
    }
  }
  keep_first(owned.DeleteFile(kJobMarkerFileName));
  WEIR_RETURN_IF_ERROR(first_error);
  // The directory itself, only when weir's files were all that was in it.
  return OwnedDirectory(storage.shared_fs(), ParentPath(storage.job_dir()))
      .DeleteIfEmpty(BaseName(storage.job_dir()));
}

Result<JobDirectories> FindJobDirectories(FileSystem& fs, const std::string& dir) {
  auto st = fs.Stat(dir);
  if (!st.ok()) return st.status().WithContext("checkpoints directory");
  if (!st->is_directory) return Status::InvalidArgument(dir + ": not a directory");
  const auto shared_fs = std::shared_ptr<FileSystem>(&fs, [](FileSystem*) {});
  JobDirectories out;
  WEIR_ASSIGN_OR_RETURN(bool is_job, RecognizeJobDirectory(CheckpointStorage(shared_fs, dir)));
  if (is_job) {
    out.jobs.push_back(dir);
    return out;
  }
  WEIR_ASSIGN_OR_RETURN(bool is_savepoint, RecognizeSavepointDirectory(fs, dir));
  if (is_savepoint) {
    out.savepoints.push_back(dir);
    return out;
  }
  WEIR_ASSIGN_OR_RETURN(auto entries, fs.ListDir(dir));
  for (const auto& e : entries) {
    const std::string sub = JoinPath(dir, e.name);
    auto sub_st = fs.Stat(sub);
    if (!sub_st.ok() || !sub_st->is_directory) continue;  // files beside job directories
    if (sub_st->is_symlink) {
      out.ignored.push_back(sub + ": a symbolic link, left alone");
      continue;
    }
    auto recognized = RecognizeJobDirectory(CheckpointStorage(shared_fs, sub));
    if (recognized.ok() && *recognized) {
      out.jobs.push_back(sub);
    } else if (auto savepoint = RecognizeSavepointDirectory(fs, sub);
               savepoint.ok() && *savepoint) {
      out.savepoints.push_back(sub);
    } else {
      out.ignored.push_back(sub +
                            ": not a weir job or savepoint directory (no marker, no readable "
                            "checkpoint or savepoint), left alone");
    }
  }
  std::sort(out.jobs.begin(), out.jobs.end());
  std::sort(out.savepoints.begin(), out.savepoints.end());
  std::sort(out.ignored.begin(), out.ignored.end());
  return out;
}

}  // namespace weir
