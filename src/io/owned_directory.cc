#include "io/owned_directory.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace weir {

OwnedDirectory::OwnedDirectory(std::shared_ptr<FileSystem> fs, std::string root, RootLink root_link)
    : fs_(std::move(fs)), root_(std::move(root)), check_root_(root_link == RootLink::kRefuse) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

Result<OwnedDirectory> OwnedDirectory::CreateWorkingDirectory(const std::string& parent,
                                                              std::string_view prefix) {
  WEIR_RETURN_IF_ERROR(ValidateIdentifier("working directory prefix", prefix));
  auto fs = NewPosixFileSystem();
  WEIR_RETURN_IF_ERROR(fs->CreateDirs(parent));
  std::string path = JoinPath(parent, std::string(prefix) + "-XXXXXX");
  // mkdtemp: a fresh name, created with mode 0700, never an existing file, directory or link.
  if (::mkdtemp(path.data()) == nullptr) {
    return Status::IOError(parent + ": cannot create a working directory: " + std::strerror(errno));
  }
  return OwnedDirectory(std::move(fs), std::move(path));
}

Result<std::string> OwnedDirectory::Resolve(std::string_view relative) const {
  WEIR_RETURN_IF_ERROR(ValidateRelativePath(relative));
  return JoinPath(root_, relative);
}

Status OwnedDirectory::CheckNoLinks(std::string_view relative, bool include_root) const {
  // Object stores have no links, and each Stat there is a request: nothing to check.
  if (!fs_->HasSymbolicLinks()) return Status::OK();
  // The root (when asked), then every directory of `relative` above its last component.
  std::vector<std::string> dirs;
  if (include_root && check_root_) dirs.push_back(root_);
  for (size_t slash = relative.find('/'); slash != std::string_view::npos;
       slash = relative.find('/', slash + 1)) {
    dirs.push_back(JoinPath(root_, relative.substr(0, slash)));
  }
  for (const auto& dir : dirs) {
    auto st = fs_->Stat(dir);
    if (!st.ok()) return st.status();
    if (st->is_symlink) {
      return Status::FailedPrecondition(dir +
                                        " is a symbolic link: weir reads and deletes nothing "
                                        "through a link (" +
                                        EscapeForLog(JoinPath(root_, relative)) + ")");
    }
    if (!st->is_directory) return Status::FailedPrecondition(dir + " is not a directory");
  }
  return Status::OK();
}

Status OwnedDirectory::DeleteFile(std::string_view relative) const {
  WEIR_ASSIGN_OR_RETURN(const std::string path, Resolve(relative));
  WEIR_RETURN_IF_ERROR(CheckNoLinks(relative, /*include_root=*/true));
  return fs_->DeleteFile(path);
}

Status OwnedDirectory::DeleteRecursively(std::string_view relative) const {
  WEIR_ASSIGN_OR_RETURN(const std::string path, Resolve(relative));
  Status checked = CheckNoLinks(relative, /*include_root=*/true);
  if (checked.IsNotFound()) return Status::OK();
  WEIR_RETURN_IF_ERROR(checked);
  return fs_->DeleteRecursively(path);
}

Status OwnedDirectory::DeleteIfEmpty(std::string_view relative) const {
  WEIR_ASSIGN_OR_RETURN(const std::string path, Resolve(relative));
  WEIR_RETURN_IF_ERROR(CheckNoLinks(relative, /*include_root=*/true));
  auto st = fs_->Stat(path);
  if (!st.ok()) return st.status().IsNotFound() ? Status::OK() : st.status();
  if (st->is_symlink || !st->is_directory) return Status::OK();
  WEIR_ASSIGN_OR_RETURN(auto entries, fs_->ListDir(path));
  if (!entries.empty()) return Status::OK();
  return fs_->DeleteRecursively(path);
}

Status OwnedDirectory::DeleteAll() const {
  if (fs_->HasSymbolicLinks() && check_root_) {
    auto st = fs_->Stat(root_);
    if (!st.ok()) return st.status().IsNotFound() ? Status::OK() : st.status();
    if (st->is_symlink || !st->is_directory) {
      return Status::FailedPrecondition(root_ + " is not a directory weir owns (" +
                                        (st->is_symlink ? "a symbolic link" : "not a directory") +
                                        "): not deleted");
    }
  }
  return fs_->DeleteRecursively(root_);
}

Status DeleteLocalDirectory(const std::string& path) {
  return OwnedDirectory(NewPosixFileSystem(), ParentPath(path)).DeleteRecursively(BaseName(path));
}

Status ValidateRelativePath(std::string_view relative) {
  if (relative.empty()) return Status::Corruption("empty file path");
  if (relative.front() == '/') {
    return Status::Corruption("file path '" + EscapeForLog(relative) +
                              "' is absolute; paths must be relative to the job directory");
  }
  for (unsigned char c : relative) {
    if (c < 0x20 || c == 0x7f) {
      return Status::Corruption("file path '" + EscapeForLog(relative) +
                                "' holds a control character");
    }
  }
  size_t start = 0;
  while (start <= relative.size()) {
    const size_t end = std::min(relative.find('/', start), relative.size());
    const std::string_view part = relative.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") {
      return Status::Corruption("file path '" + EscapeForLog(relative) +
                                "' leaves the job directory or is malformed");
    }
    start = end + 1;
  }
  return Status::OK();
}

Status ValidateIdentifier(std::string_view what, std::string_view value) {
  constexpr size_t kMaxLength = 128;
  const auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(std::string(what) + " '" + EscapeForLog(value) + "' " + why);
  };
  if (value.empty()) return bad("is empty");
  if (value.size() > kMaxLength) return bad("is longer than 128 characters");
  if (value.front() == '.') return bad("starts with '.'");
  for (char c : value) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) return bad("may hold only letters, digits, '_', '-' and '.'");
  }
  return Status::OK();
}

}  // namespace weir
