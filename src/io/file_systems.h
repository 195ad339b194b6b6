// The file system for a storage path, chosen by the path's scheme from one table of factories:
// "file" (plain paths and file://; POSIX, state.checkpoints.owner-only applies) and "s3" (s3://,
// s3a://, s3p://; configured by the s3.* keys). Callers name no file system: adding one (say
// "gs") is one factory and one line in file_systems.cc, and nothing above io/ changes.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/file_system.h"
#include "weir/config.h"

namespace weir {

// Makes the file system for a normalized path (see NormalizeStoragePath) of its scheme.
using FileSystemFactory = Result<std::shared_ptr<FileSystem>> (*)(const std::string& path,
                                                                  const Configuration& config);

struct FileSystemScheme {
  const char* scheme;  // "file", "s3"
  FileSystemFactory factory;
};

// The registered schemes, "file" first.
const std::vector<FileSystemScheme>& RegisteredFileSystems();

// The file system for `path`: InvalidArgument for a scheme no file system is registered for.
Result<std::shared_ptr<FileSystem>> FileSystemForPath(const std::string& path,
                                                      const Configuration& config);

}  // namespace weir
