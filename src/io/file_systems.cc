#include "io/file_systems.h"

#include "io/s3/s3_file_system.h"

namespace weir {
namespace {

Result<std::shared_ptr<FileSystem>> LocalFileSystemFor(const std::string&,
                                                       const Configuration& config) {
  return NewPosixFileSystem({.owner_only = config.Get(config::kOwnerOnly)});
}

// The scheme of a normalized path: "s3" for "s3://…", "file" for a plain local path.
std::string SchemeOf(const std::string& normalized) {
  const size_t sep = normalized.find("://");
  return sep == std::string::npos ? "file" : normalized.substr(0, sep);
}

}  // namespace

const std::vector<FileSystemScheme>& RegisteredFileSystems() {
  static const std::vector<FileSystemScheme> schemes = {
      {"file", &LocalFileSystemFor},
      {"s3", &s3::S3FileSystemFor},
  };
  return schemes;
}

Result<std::shared_ptr<FileSystem>> FileSystemForPath(const std::string& path,
                                                      const Configuration& config) {
  WEIR_ASSIGN_OR_RETURN(const std::string normalized, NormalizeStoragePath(path));
  const std::string scheme = SchemeOf(normalized);
  for (const auto& s : RegisteredFileSystems()) {
    if (scheme == s.scheme) return s.factory(normalized, config);
  }
  return Status::InvalidArgument("no file system is registered for scheme '" + scheme + "://' (" +
                                 path + ")");
}

}  // namespace weir
