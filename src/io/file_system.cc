#include "io/file_system.h"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <random>

namespace weir {

Result<bool> FileSystem::Exists(const std::string& path) {
  auto st = Stat(path);
  if (st.ok()) return true;
  if (st.status().IsNotFound()) return false;
  return st.status();
}

Result<std::string> FileSystem::ReadFileToString(const std::string& path) {
  WEIR_ASSIGN_OR_RETURN(auto file, NewReadableFile(path));
  std::string data;
  WEIR_RETURN_IF_ERROR(file->ReadAt(0, file->Size(), &data));
  if (data.size() != file->Size()) return Status::IOError(path + ": short read");
  return data;
}

Status FileSystem::PublishAtomically(const std::string& path, std::string_view data) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const std::string tmp = path + ".tmp-" + std::to_string(rng() % 1000000000ULL);
  auto write = [&]() -> Status {
    WEIR_ASSIGN_OR_RETURN(auto file, NewWritableFile(tmp));
    WEIR_RETURN_IF_ERROR(file->Append(data));
    WEIR_RETURN_IF_ERROR(file->Sync());
    WEIR_RETURN_IF_ERROR(file->Close());
    return Rename(tmp, path);
  };
  Status s = write();
  if (!s.ok()) {
    (void)DeleteFile(tmp);  // best effort: the temp name is never referenced
    return s;
  }
  return SyncDir(ParentPath(path));
}

Status FileSystem::WriteDurably(const std::string& path, std::string_view data) {
  WEIR_ASSIGN_OR_RETURN(auto file, NewWritableFile(path));
  WEIR_RETURN_IF_ERROR(file->Append(data));
  WEIR_RETURN_IF_ERROR(file->Sync());
  return file->Close();
}

namespace {
std::mutex default_fs_mu;
std::shared_ptr<FileSystem>& DefaultFs() {
  static std::shared_ptr<FileSystem> fs = NewPosixFileSystem();
  return fs;
}
}  // namespace

std::shared_ptr<FileSystem> DefaultLocalFileSystem() {
  std::lock_guard<std::mutex> lock(default_fs_mu);
  return DefaultFs();
}

void SetDefaultLocalFileSystem(std::shared_ptr<FileSystem> fs) {
  std::lock_guard<std::mutex> lock(default_fs_mu);
  DefaultFs() = std::move(fs);
}

Result<std::string> NormalizeStoragePath(std::string_view path) {
  const size_t sep = path.find("://");
  if (sep == std::string_view::npos) return std::string(path);
  const std::string_view scheme = path.substr(0, sep);
  const std::string_view rest = path.substr(sep + 3);
  // Only a well-formed scheme (RFC 3986) counts: "./a://b" is a local path with a colon in it.
  const bool is_scheme =
      !scheme.empty() && std::isalpha(static_cast<unsigned char>(scheme.front())) &&
      std::all_of(scheme.begin(), scheme.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
      });
  if (!is_scheme) return std::string(path);
  std::string lower(scheme);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "file") {
    if (rest.empty() || rest.front() != '/') {
      return Status::InvalidArgument("'" + std::string(path) +
                                     "': a file:// URI needs an absolute path (file:///dir)");
    }
    return std::string(rest);
  }
  if (lower == "s3" || lower == "s3a" || lower == "s3p") return "s3://" + std::string(rest);
  return Status::InvalidArgument("'" + std::string(path) + "': the scheme '" + std::string(scheme) +
                                 "://' is not supported (use a local path, file:// or s3://)");
}

std::string JoinPath(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  std::string out(a);
  if (out.back() != '/') out.push_back('/');
  out.append(b);
  return out;
}

std::string ParentPath(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const auto pos = path.rfind('/');
  if (pos == std::string_view::npos) return "";
  if (pos == 0) return "/";
  return std::string(path.substr(0, pos));
}

std::string BaseName(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const auto pos = path.rfind('/');
  return std::string(pos == std::string_view::npos ? path : path.substr(pos + 1));
}

}  // namespace weir
