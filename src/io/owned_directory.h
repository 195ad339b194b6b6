// OwnedDirectory: a directory weir created or recognized as its own (a job directory with its
// marker, a local working directory it made), and the one place through which weir deletes
// anything in it.
//
// Every deletion names a path relative to the directory; the path must follow the strict grammar
// of ValidateRelativePath (no absolute path, no "." or "..", no empty or control characters), and
// no component of it may be a symbolic link: a directory replaced by a link to elsewhere is
// refused, never followed. The directory itself must be a real directory, not a link. So a
// crafted checkpoint, a link planted in a job directory or a hostile identifier can at worst make
// a deletion fail; it can never reach outside.
//
// Whoever constructs one vouches that the directory is weir's: the coordinator after it created
// or recognized the job directory (storage/job_directory.h), a job for the working directory it
// created with CreateWorkingDirectory. Thread-safe: immutable.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/log.h"
#include "io/file_system.h"

namespace weir {

class OwnedDirectory {
 public:
  // Whether the directory itself may be reached through a link: never for directories weir
  // created (a link there was planted); allowed for a directory the user named for output (the
  // file sink's), whose place is theirs to choose. Below the directory, links are never followed.
  enum class RootLink { kRefuse, kFollow };

  OwnedDirectory(std::shared_ptr<FileSystem> fs, std::string root,
                 RootLink root_link = RootLink::kRefuse);

  // A new local directory below `parent` for one job's working files: a name no one can predict
  // ("<prefix>-XXXXXX" by mkdtemp, never an existing path), owner-only (0700).
  static Result<OwnedDirectory> CreateWorkingDirectory(const std::string& parent,
                                                       std::string_view prefix);

  const std::string& root() const { return root_; }
  FileSystem& fs() const { return *fs_; }
  // Absolute path of `relative` (checked as for a deletion, without I/O).
  Result<std::string> Resolve(std::string_view relative) const;

  // Deletes the file `relative`; NotFound if it does not exist.
  Status DeleteFile(std::string_view relative) const;
  // Deletes `relative` and everything below it (links inside are removed, not followed); OK if it
  // does not exist.
  Status DeleteRecursively(std::string_view relative) const;
  // Deletes `relative` if it is an empty directory; OK (and nothing happens) when it is not empty.
  Status DeleteIfEmpty(std::string_view relative) const;
  // Deletes the directory itself with everything in it.
  Status DeleteAll() const;

  // FailedPrecondition when a component of `relative` above its last one is a link or not a
  // directory (readers use it too: a checkpoint's files are read only from inside its
  // directory). With `include_root`, the directory itself is checked as well.
  Status CheckNoLinks(std::string_view relative, bool include_root = false) const;

 private:
  std::shared_ptr<FileSystem> fs_;
  std::string root_;
  bool check_root_;
};

// Deletes the local directory `path` (inside a working directory weir created: a backend's
// database, a native checkpoint, a restore attempt) with everything in it, through the guard of
// its parent: the last component must be a valid name and not a link. OK if it does not exist.
Status DeleteLocalDirectory(const std::string& path);

// A path relative to an owned directory, as weir builds and reads them: '/'-separated
// components, each non-empty, not "." or "..", with no control character; not absolute.
// Corruption naming the path otherwise.
Status ValidateRelativePath(std::string_view relative);

// An identifier that becomes a component of a path (job id, backend id, operator uid, file
// name): 1 to 128 characters from [A-Za-z0-9._-], not starting with '.'. InvalidArgument naming
// `what` and the (escaped) value otherwise.
Status ValidateIdentifier(std::string_view what, std::string_view value);

}  // namespace weir
