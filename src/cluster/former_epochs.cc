#include "cluster/former_epochs.h"

#include "checkpoint/job_directory.h"
#include "io/owned_directory.h"
#include "storage/checkpoint_storage.h"

namespace weir::cluster {

namespace {
constexpr std::string_view kEpochPrefix = "epoch-";
}  // namespace

std::string EpochDirName(int64_t epoch) {
  return std::string(kEpochPrefix) + std::to_string(epoch);
}

std::optional<int64_t> ParseEpochDirName(std::string_view name) {
  if (!name.starts_with(kEpochPrefix)) return std::nullopt;
  const std::string_view digits = name.substr(kEpochPrefix.size());
  if (digits.empty() || digits.size() > 18 || digits.front() == '0') return std::nullopt;
  int64_t epoch = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    epoch = epoch * 10 + (c - '0');
  }
  return epoch;
}

Result<int> DeleteFormerEpochs(const std::shared_ptr<FileSystem>& fs, const std::string& shard_dir,
                               int64_t epoch) {
  WEIR_ASSIGN_OR_RETURN(std::vector<DirectoryEntry> entries, fs->ListDir(shard_dir));
  const OwnedDirectory shard(fs, shard_dir);
  int deleted = 0;
  Status first_error;
  const auto keep_first = [&](const Status& s) {
    if (!s.ok() && !s.IsNotFound() && first_error.ok()) first_error = s;
  };
  for (const DirectoryEntry& e : entries) {
    const std::optional<int64_t> former = ParseEpochDirName(e.name);
    if (!e.is_directory || !former || *former >= epoch) continue;
    const std::string epoch_dir = shard_dir + "/" + e.name;
    // A link planted in place of an epoch directory is refused, never followed.
    if (Status s = shard.CheckNoLinks(e.name + "/x"); !s.ok()) {
      keep_first(s);
      continue;
    }
    auto found = FindJobDirectories(*fs, epoch_dir);
    if (!found.ok()) {
      keep_first(found.status());
      continue;
    }
    for (const std::string& job_dir : found->jobs) {
      Status s = DeleteJobDirectory(CheckpointStorage(fs, job_dir));
      if (s.ok()) ++deleted;
      keep_first(s);
    }
    keep_first(shard.DeleteIfEmpty(e.name));
  }
  WEIR_RETURN_IF_ERROR(first_error);
  return deleted;
}

}  // namespace weir::cluster
