#include "storage/checkpoint_storage.h"

#include <algorithm>
#include <charconv>

#include "common/retry.h"

namespace weir {

CheckpointStorage::CheckpointStorage(std::shared_ptr<FileSystem> fs, std::string job_dir,
                                     Layout layout)
    : fs_(std::move(fs)), job_dir_(std::move(job_dir)), layout_(layout) {
  while (job_dir_.size() > 1 && job_dir_.back() == '/') job_dir_.pop_back();
}

CheckpointStorage CheckpointStorage::ForSavepoint(std::shared_ptr<FileSystem> fs,
                                                  std::string_view savepoint_dir) {
  return CheckpointStorage(std::move(fs), std::string(savepoint_dir), Layout::kSavepoint);
}

CheckpointStorage CheckpointStorage::ForPointer(std::shared_ptr<FileSystem> fs,
                                                const CheckpointPointer& pointer) {
  return CheckpointStorage(std::move(fs), pointer.job_dir,
                           pointer.savepoint ? Layout::kSavepoint : Layout::kJob);
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
  if (is_savepoint()) return job_dir_;
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

std::string CheckpointStorage::RelativePrivateFile(uint64_t checkpoint_id,
                                                   std::string_view file_name) const {
  if (is_savepoint()) return std::string(file_name);
  return RelativeCheckpointFile(checkpoint_id, file_name);
}

namespace {

// "dstl/<file>" -> "<file>"; nullopt for a path of the job directory.
std::optional<std::string_view> InChangelogDir(std::string_view relative) {
  if (relative.size() <= kChangelogDirPrefix.size() + 1 ||
      relative.substr(0, kChangelogDirPrefix.size()) != kChangelogDirPrefix ||
      relative[kChangelogDirPrefix.size()] != '/') {
    return std::nullopt;
  }
  return relative.substr(kChangelogDirPrefix.size() + 1);
}

constexpr size_t kMaxChangelogDirBytes = 4096;

// Whether `path` is a regular file holding exactly `content` (a directory's marker).
Result<bool> HoldsMarker(FileSystem& fs, const std::string& path, std::string_view content) {
  auto st = fs.Stat(path);
  if (!st.ok()) {
    if (st.status().IsNotFound()) return false;
    return st.status();
  }
  if (st->is_symlink || st->is_directory || st->size != content.size()) return false;
  WEIR_ASSIGN_OR_RETURN(std::string read, fs.ReadFileToString(path));
  return read == content;
}

}  // namespace

Status ValidateChangelogDir(std::string_view dir) {
  const auto bad = [&](const std::string& why) {
    return Status::Corruption("state-change log directory '" + std::string(dir.substr(0, 200)) +
                              "': " + why);
  };
  if (dir.size() > kMaxChangelogDirBytes) return bad("longer than 4096 bytes");
  std::string_view rest;
  if (dir.starts_with("s3://")) {
    rest = dir.substr(5);
  } else if (dir.starts_with("/")) {
    rest = dir.substr(1);
  } else {
    return bad("not an absolute path or an s3:// URI");
  }
  if (Status s = ValidateRelativePath(rest); !s.ok()) {
    return bad("not a clean path (no empty, '.' or '..' component, no control character)");
  }
  return Status::OK();
}

Result<std::string> CheckpointStorage::ResolveRelative(std::string_view relative) const {
  WEIR_RETURN_IF_ERROR(ValidateRelativePath(relative));
  if (const auto file = is_savepoint() ? std::nullopt : InChangelogDir(relative)) {
    if (changelog_dir_.empty()) {
      return Status::Corruption(std::string(relative) +
                                " lies in a state-change log directory, "
                                "but the job directory " +
                                job_dir_ + " records none (" +
                                std::string(kChangelogLocationFileName) + ")");
    }
    return JoinPath(changelog_dir_, *file);
  }
  return JoinPath(job_dir_, relative);
}

CheckpointStorage CheckpointStorage::WithChangelogDir(std::string dir) const {
  CheckpointStorage s = *this;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  s.changelog_dir_ = std::move(dir);
  return s;
}

std::string CheckpointStorage::ChangelogFilesDir() const {
  return changelog_dir_.empty() ? SharedDir() : changelog_dir_;
}

std::string CheckpointStorage::RelativeChangelogFile(std::string_view file_name) const {
  return JoinPath(changelog_dir_.empty() ? kSharedDirName : kChangelogDirPrefix, file_name);
}

Result<std::optional<std::string>> CheckpointStorage::RecordedChangelogDir() const {
  const std::string path = JoinPath(job_dir_, kChangelogLocationFileName);
  auto st = fs_->Stat(path);
  if (!st.ok()) {
    if (st.status().IsNotFound()) return std::optional<std::string>();
    return st.status();
  }
  if (st->is_symlink || st->is_directory || st->size > kMaxChangelogDirBytes + 1) {
    return Status::Corruption(path + ": not a record of a state-change log directory");
  }
  WEIR_ASSIGN_OR_RETURN(std::string content, fs_->ReadFileToString(path));
  if (content.empty() || content.back() != '\n') {
    return Status::Corruption(path + ": truncated (no line end)");
  }
  content.pop_back();
  if (Status s = ValidateChangelogDir(content); !s.ok()) {
    return Status::Corruption(path + ": " + s.message());
  }
  return std::optional<std::string>(std::move(content));
}

Result<CheckpointStorage> CheckpointStorage::WithRecordedChangelogDir() const {
  if (is_savepoint()) return *this;
  WEIR_ASSIGN_OR_RETURN(const auto recorded, RecordedChangelogDir());
  if (!recorded) return *this;
  CheckpointStorage s = WithChangelogDir(*recorded);
  WEIR_ASSIGN_OR_RETURN(const bool marked, s.HasChangelogMarker());
  if (!marked) {
    return Status::Corruption(JoinPath(job_dir_, kChangelogLocationFileName) + " names " +
                              *recorded + ", which is not a weir state-change log directory (no " +
                              std::string(kChangelogMarkerFileName) + " marker)");
  }
  return s;
}

Result<bool> CheckpointStorage::HasChangelogMarker() const {
  if (changelog_dir_.empty()) return false;
  return HoldsMarker(*fs_, JoinPath(changelog_dir_, kChangelogMarkerFileName),
                     kChangelogMarkerContent);
}

Result<std::pair<OwnedDirectory, std::string_view>> CheckpointStorage::OwnerOf(
    std::string_view relative) const {
  if (const auto file = is_savepoint() ? std::nullopt : InChangelogDir(relative)) {
    if (changelog_dir_.empty()) return ResolveRelative(relative).status();
    return std::pair<OwnedDirectory, std::string_view>(owned_changelog(), *file);
  }
  return std::pair<OwnedDirectory, std::string_view>(owned(), relative);
}

Status CheckpointStorage::DeleteStateFile(std::string_view relative) const {
  WEIR_ASSIGN_OR_RETURN(const auto owner, OwnerOf(relative));
  return owner.first.DeleteFile(owner.second);
}

Status CheckpointStorage::CheckStateFileNoLinks(std::string_view relative) const {
  WEIR_ASSIGN_OR_RETURN(const auto owner, OwnerOf(relative));
  return owner.first.CheckNoLinks(owner.second);
}

std::string CheckpointStorage::MarkerPath() const { return JoinPath(job_dir_, kJobMarkerFileName); }

Status CheckpointStorage::Initialize() const {
  if (is_savepoint()) {
    return Status::InvalidArgument(job_dir_ + " is a savepoint, not a job directory");
  }
  WEIR_RETURN_IF_ERROR(fs_->CreateDirs(SharedDir()));
  WEIR_RETURN_IF_ERROR(fs_->CreateDirs(TaskOwnedDir()));
  WEIR_ASSIGN_OR_RETURN(bool marked, HasMarker());
  if (!marked) {
    WEIR_RETURN_IF_ERROR(RetryRetryable("publish of " + MarkerPath(), [&] {
      return fs_->PublishAtomically(MarkerPath(), kJobMarkerContent);
    }));
  }
  if (!changelog_dir_.empty()) WEIR_RETURN_IF_ERROR(InitializeChangelogDir());
  return fs_->SyncDir(job_dir_);
}

Status CheckpointStorage::InitializeChangelogDir() const {
  WEIR_RETURN_IF_ERROR(ValidateChangelogDir(changelog_dir_));
  WEIR_ASSIGN_OR_RETURN(const bool marked, HasChangelogMarker());
  if (!marked) {
    // A directory someone else filled is never taken over (its files could be deleted as
    // orphans later).
    auto entries = fs_->ListDir(changelog_dir_);
    if (entries.ok() && !entries->empty()) {
      return Status::FailedPrecondition(changelog_dir_ +
                                        ": exists and is not a weir state-change log directory "
                                        "(no " +
                                        std::string(kChangelogMarkerFileName) +
                                        " marker); refusing to write the job's log there");
    }
    WEIR_RETURN_IF_ERROR(fs_->CreateDirs(changelog_dir_));
    const std::string marker = JoinPath(changelog_dir_, kChangelogMarkerFileName);
    WEIR_RETURN_IF_ERROR(RetryRetryable("publish of " + marker, [&] {
      return fs_->PublishAtomically(marker, kChangelogMarkerContent);
    }));
    WEIR_RETURN_IF_ERROR(fs_->SyncDir(changelog_dir_));
  }
  WEIR_ASSIGN_OR_RETURN(const auto recorded, RecordedChangelogDir());
  if (recorded != changelog_dir_) {
    const std::string record = JoinPath(job_dir_, kChangelogLocationFileName);
    WEIR_RETURN_IF_ERROR(RetryRetryable("publish of " + record, [&] {
      return fs_->PublishAtomically(record, changelog_dir_ + "\n");
    }));
  }
  return Status::OK();
}

Result<bool> CheckpointStorage::HasMarker() const {
  return HoldsMarker(*fs_, MarkerPath(), kJobMarkerContent);
}

Status CheckpointStorage::CreateCheckpointDir(uint64_t checkpoint_id) const {
  WEIR_RETURN_IF_ERROR(fs_->CreateDirs(CheckpointDir(checkpoint_id)));
  // A savepoint's directory is the root: its entry lives in the parent.
  if (is_savepoint()) {
    const std::string parent = ParentPath(job_dir_);
    return parent.empty() ? Status::OK() : fs_->SyncDir(parent);
  }
  return fs_->SyncDir(job_dir_);
}

Status CheckpointStorage::PublishMetadata(uint64_t checkpoint_id, std::string_view bytes) const {
  // Each attempt writes a new temporary file and renames it over the same name: safe to repeat.
  return RetryRetryable("publish of " + MetadataPath(checkpoint_id),
                        [&] { return fs_->PublishAtomically(MetadataPath(checkpoint_id), bytes); });
}

Result<std::vector<uint64_t>> CheckpointStorage::ListCompletedCheckpointIds() const {
  if (is_savepoint()) {
    return Status::InvalidArgument(job_dir_ + " is a savepoint, not a job directory");
  }
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
  const auto not_one = [&] {
    return Status::InvalidArgument(path +
                                   ": not a checkpoint or savepoint (expected a '_metadata' "
                                   "file, a chk-<N> directory or a savepoint directory)");
  };
  auto st = fs.Stat(path);
  if (!st.ok()) {
    if (st.status().IsNotFound()) {
      return Status::NotFound(path + ": no such checkpoint or savepoint (the path does not exist)");
    }
    return st.status();
  }
  std::string dir = path;
  std::string metadata_path = JoinPath(path, kMetadataFileName);
  if (!st->is_directory) {
    if (BaseName(path) != kMetadataFileName) return not_one();
    dir = ParentPath(path);
    if (dir.empty()) dir = ".";
    metadata_path = path;
  }
  WEIR_ASSIGN_OR_RETURN(bool has_metadata, fs.Exists(metadata_path));
  const auto id = ParseCheckpointDirName(BaseName(dir));
  if (!id) {
    // Any other directory with a `_metadata` is a savepoint: its name is the user's to choose.
    if (!has_metadata) return not_one();
    return CheckpointPointer{dir, 0, metadata_path, /*savepoint=*/true};
  }
  if (!has_metadata) {
    return Status::NotFound(dir + ": checkpoint " + std::to_string(*id) +
                            " has no _metadata (it never completed)");
  }
  std::string job_dir = ParentPath(dir);
  if (job_dir.empty()) job_dir = ".";
  return CheckpointPointer{job_dir, *id, metadata_path, /*savepoint=*/false};
}

}  // namespace weir
