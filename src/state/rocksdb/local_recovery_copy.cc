#include "state/rocksdb/local_recovery_copy.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>

#include "common/log.h"
#include "io/owned_directory.h"
#include "snapshot/state_file_verifier.h"

namespace weir {
namespace {

constexpr std::string_view kPrefix = "chk-";

// The id of a "chk-<N>" entry; nullopt for any other name (or a number beyond uint64).
std::optional<uint64_t> CopyId(std::string_view name) {
  if (!name.starts_with(kPrefix)) return std::nullopt;
  const std::string_view digits = name.substr(kPrefix.size());
  uint64_t id = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (digits.empty() || error != std::errc() || end != digits.data() + digits.size()) {
    return std::nullopt;
  }
  return id;
}

Status MakeOwnerOnlyDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::IOError("cannot create " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    return Status::IOError("cannot stat " + path + ": " + std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 077) != 0) {
    return Status::FailedPrecondition(
        path +
        " is not an owner-only directory of this user (a link, another user's or open to "
        "others): local recovery does not use it");
  }
  return Status::OK();
}

}  // namespace

std::string LocalRecoveryCopy::CheckpointDir(const std::string& dir, uint64_t checkpoint_id) {
  return JoinPath(dir, std::string(kPrefix) + std::to_string(checkpoint_id));
}

std::string LocalRecoveryCopy::NewestCopyAtMost(const std::string& dir, uint64_t checkpoint_id) {
  auto entries = NewPosixFileSystem()->ListDir(dir);
  if (!entries.ok()) return "";
  std::optional<uint64_t> best;
  for (const auto& e : *entries) {
    const auto id = CopyId(e.name);
    if (id && *id <= checkpoint_id && e.is_directory && (!best || *id > *best)) best = id;
  }
  return best ? CheckpointDir(dir, *best) : "";
}

std::string StandbyStagingDir(const std::string& dir) { return JoinPath(dir, "standby-next"); }

Status LocalRecoveryCopy::CreateDir() const { return MakeOwnerOnlyDir(dir_); }

Status LocalRecoveryCopy::Keep(uint64_t checkpoint_id, const std::string& native_dir) const {
  WEIR_RETURN_IF_ERROR(MakeOwnerOnlyDir(dir_));
  const std::string to = CheckpointDir(dir_, checkpoint_id);
  WEIR_RETURN_IF_ERROR(DeleteLocalDirectory(to));  // a stale copy of that id
  auto fs = NewPosixFileSystem();
  return fs->Rename(native_dir, to);
}

void LocalRecoveryCopy::Confirm(uint64_t checkpoint_id) const {
  auto fs = NewPosixFileSystem();
  auto entries = fs->ListDir(dir_);
  if (!entries.ok()) return;  // nothing kept yet
  for (const auto& e : *entries) {
    const auto id = CopyId(e.name);
    if (id && *id < checkpoint_id) {
      if (Status s = DeleteLocalDirectory(JoinPath(dir_, e.name)); !s.ok()) {
        LogWarn("local recovery: " + s.ToString());
      }
    }
  }
}

void LocalRecoveryCopy::Discard(uint64_t checkpoint_id) const {
  if (Status s = DeleteLocalDirectory(CheckpointDir(dir_, checkpoint_id)); !s.ok()) {
    LogWarn("local recovery: " + s.ToString());
  }
}

Result<uint64_t> LocalChecksumCache::Checksum(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Status::NotFound(path + " is not a regular file");
  }
  const Key key{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
                static_cast<uint64_t>(st.st_size),
                int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec};
  {
    std::lock_guard lock(mu_);
    if (const auto it = checksums_.find(key); it != checksums_.end()) return it->second;
  }
  auto fs = NewPosixFileSystem();
  WEIR_ASSIGN_OR_RETURN(const uint64_t checksum, ChecksumFile(*fs, path));
  std::lock_guard lock(mu_);
  if (checksums_.size() >= 100000) checksums_.clear();
  checksums_[key] = checksum;
  return checksum;
}

std::vector<bool> MatchLocalCopy(const KeyedStateHandle& handle, const std::string& copy_dir,
                                 LocalChecksumCache* cache) {
  std::vector<bool> matched(handle.files.size(), false);
  if (copy_dir.empty()) return matched;
  auto fs = NewPosixFileSystem();
  for (size_t i = 0; i < handle.files.size(); ++i) {
    const StateFileHandle& f = handle.files[i];
    if (!ValidateIdentifier("local file", f.local_name).ok()) continue;
    const std::string path = JoinPath(copy_dir, f.local_name);
    auto stat = fs->Stat(path);
    if (!stat.ok() || stat->is_symlink || stat->is_directory || stat->is_other ||
        stat->size != f.size) {
      continue;
    }
    auto checksum = cache != nullptr ? cache->Checksum(path) : ChecksumFile(*fs, path);
    matched[i] = checksum.ok() && *checksum == f.checksum;
  }
  return matched;
}

Result<std::string> CreateLocalRecoveryDirectory(const std::string& parent,
                                                 const std::string& scope) {
  WEIR_RETURN_IF_ERROR(ValidateIdentifier("local recovery scope", scope));
  const std::string base = JoinPath(parent, "weir-local-recovery-" + std::to_string(::geteuid()));
  WEIR_RETURN_IF_ERROR(MakeOwnerOnlyDir(base));
  const std::string dir = JoinPath(base, scope);
  WEIR_RETURN_IF_ERROR(MakeOwnerOnlyDir(dir));
  return dir;
}

Status DiscardLocalRecoveryDirectory(const std::string& parent, const std::string& scope) {
  WEIR_RETURN_IF_ERROR(ValidateIdentifier("local recovery scope", scope));
  const std::string base = JoinPath(parent, "weir-local-recovery-" + std::to_string(::geteuid()));
  struct stat st {};
  if (::lstat(base.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::OK();
    return Status::IOError("cannot stat " + base + ": " + std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 077) != 0) {
    return Status::FailedPrecondition(
        base + " is not an owner-only directory of this user: " + "nothing under it is deleted");
  }
  return DeleteLocalDirectory(JoinPath(base, scope));
}

}  // namespace weir
