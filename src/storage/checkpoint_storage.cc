#include "storage/checkpoint_storage.h"

#include <algorithm>
#include <charconv>

#include "common/retry.h"

namespace weir {

CheckpointStorage::CheckpointStorage(std::shared_ptr<FileSystem> fs, std::string job_dir)
    : fs_(std::move(fs)), job_dir_(std::move(job_dir)) {
  while (job_dir_.size() > 1 && job_dir_.back() == '/') job_dir_.pop_back();
}

CheckpointStorage CheckpointStorage::ForJob(std::shared_ptr<FileSystem> fs,
                                            std::string_view checkpoints_dir,
                                            std::string_view job_id) {
  return CheckpointStorage(std::move(fs), JoinPath(checkpoints_dir, job_id));
}

std::string CheckpointStorage::CheckpointDirName(uint64_t checkpoint_id) {
  return "chk-" + std::to_string(checkpoint_id);
}

std::optional<uint64_t> CheckpointStorage::ParseCheckpointDirName(std::string_view name) {
  constexpr std::string_view kPrefix = "chk-";
  if (name.size() <= kPrefix.size() || name.substr(0, kPrefix.size()) != kPrefix) {
    return std::nullopt;
  }
  const std::string_view digits = name.substr(kPrefix.size());
  if (digits.size() > 1 && digits.front() == '0') return std::nullopt;
  uint64_t id = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return id;
}

std::string CheckpointStorage::CheckpointDir(uint64_t checkpoint_id) const {
  return JoinPath(job_dir_, CheckpointDirName(checkpoint_id));
}

std::string CheckpointStorage::MetadataPath(uint64_t checkpoint_id) const {
  return JoinPath(CheckpointDir(checkpoint_id), kMetadataFileName);
}

std::string CheckpointStorage::SharedDir() const { return JoinPath(job_dir_, kSharedDirName); }

std::string CheckpointStorage::TaskOwnedDir() const {
  return JoinPath(job_dir_, kTaskOwnedDirName);
}

std::string CheckpointStorage::RelativeCheckpointFile(uint64_t checkpoint_id,
                                                      std::string_view file_name) {
  return JoinPath(CheckpointDirName(checkpoint_id), file_name);
}

Status CheckpointStorage::ValidateRelativePath(std::string_view relative) {
  if (relative.empty()) return Status::Corruption("empty file path");
  if (relative.front() == '/') {
    return Status::Corruption("file path '" + std::string(relative) +
                              "' is absolute; paths must be relative to the job directory");
  }
  size_t start = 0;
  while (start <= relative.size()) {
    const size_t end = std::min(relative.find('/', start), relative.size());
    const std::string_view part = relative.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") {
      return Status::Corruption("file path '" + std::string(relative) +
                                "' leaves the job directory or is malformed");
    }
    start = end + 1;
  }
  return Status::OK();
}

Result<std::string> CheckpointStorage::ResolveRelative(std::string_view relative) const {
  WEIR_RETURN_IF_ERROR(ValidateRelativePath(relative));
  return JoinPath(job_dir_, relative);
}

Status CheckpointStorage::Initialize() const {
  WEIR_RETURN_IF_ERROR(fs_->CreateDirs(SharedDir()));
  WEIR_RETURN_IF_ERROR(fs_->CreateDirs(TaskOwnedDir()));
  return fs_->SyncDir(job_dir_);
}

Status CheckpointStorage::CreateCheckpointDir(uint64_t checkpoint_id) const {
  WEIR_RETURN_IF_ERROR(fs_->CreateDirs(CheckpointDir(checkpoint_id)));
  return fs_->SyncDir(job_dir_);
}

Status CheckpointStorage::PublishMetadata(uint64_t checkpoint_id, std::string_view bytes) const {
  // Each attempt writes a new temporary file and renames it over the same name: safe to repeat.
  return RetryRetryable("publish of " + MetadataPath(checkpoint_id),
                        [&] { return fs_->PublishAtomically(MetadataPath(checkpoint_id), bytes); });
}

Result<std::vector<uint64_t>> CheckpointStorage::ListCompletedCheckpointIds() const {
  WEIR_ASSIGN_OR_RETURN(auto entries, fs_->ListDir(job_dir_));
  std::vector<uint64_t> ids;
  for (const auto& e : entries) {
    const auto id = ParseCheckpointDirName(e.name);
    if (!id || !e.is_directory) continue;
    WEIR_ASSIGN_OR_RETURN(bool has_metadata, fs_->Exists(MetadataPath(*id)));
    if (has_metadata) ids.push_back(*id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

Result<CheckpointPointer> CheckpointStorage::ResolvePointer(FileSystem& fs,
                                                            const std::string& path) {
  auto st = fs.Stat(path);
  if (!st.ok()) {
    if (st.status().IsNotFound()) {
      return Status::NotFound(path + ": no such checkpoint (the path does not exist)");
    }
    return st.status();
  }
  std::string chk_dir = path;
  std::string metadata_path = JoinPath(path, kMetadataFileName);
  if (!st->is_directory) {
    if (BaseName(path) != kMetadataFileName) {
      return Status::InvalidArgument(path +
                                     ": not a checkpoint (expected a '_metadata' file "
                                     "or a chk-<N> directory)");
    }
    chk_dir = ParentPath(path);
    metadata_path = path;
  }
  const auto id = ParseCheckpointDirName(BaseName(chk_dir));
  if (!id) {
    return Status::InvalidArgument(path +
                                   ": not a checkpoint (expected a '_metadata' file "
                                   "or a chk-<N> directory)");
  }
  WEIR_ASSIGN_OR_RETURN(bool has_metadata, fs.Exists(metadata_path));
  if (!has_metadata) {
    return Status::NotFound(chk_dir + ": checkpoint " + std::to_string(*id) +
                            " has no _metadata (it never completed)");
  }
  std::string job_dir = ParentPath(chk_dir);
  if (job_dir.empty()) job_dir = ".";
  return CheckpointPointer{job_dir, *id, metadata_path};
}

Result<std::vector<std::string>> CheckpointStorage::FindJobDirs(FileSystem& fs,
                                                                const std::string& dir) {
  auto st = fs.Stat(dir);
  if (!st.ok()) return st.status().WithContext("checkpoints directory");
  if (!st->is_directory) return Status::InvalidArgument(dir + ": not a directory");
  WEIR_ASSIGN_OR_RETURN(auto entries, fs.ListDir(dir));
  const auto is_job_dir_listing = [](const std::vector<DirectoryEntry>& list) {
    return std::any_of(list.begin(), list.end(), [](const DirectoryEntry& e) {
      return e.is_directory && (ParseCheckpointDirName(e.name) || e.name == kSharedDirName);
    });
  };
  if (is_job_dir_listing(entries)) return std::vector<std::string>{dir};
  std::vector<std::string> jobs;
  for (const auto& e : entries) {
    if (!e.is_directory) continue;
    const std::string sub = JoinPath(dir, e.name);
    auto sub_entries = fs.ListDir(sub);
    if (sub_entries.ok() && is_job_dir_listing(*sub_entries)) jobs.push_back(sub);
  }
  std::sort(jobs.begin(), jobs.end());
  return jobs;
}

}  // namespace weir
