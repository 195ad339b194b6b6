// FileSystem: the only way weir touches durable storage. Checkpoint storage, restore and the CLI
// work against this interface so that S3 and fault-injecting wrappers can stand in for POSIX.
//
// Paths are strings in the file system's own syntax ("/a/b" for POSIX). All methods are safe to
// call from several threads at once; a WritableFile or ReadableFile belongs to one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "weir/status.h"

namespace weir {

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  // Makes all appended data durable (fsync).
  virtual Status Sync() = 0;
  // Flushes and closes; data is durable only if Sync() was called before.
  virtual Status Close() = 0;
  virtual uint64_t Size() const = 0;
};

class ReadableFile {
 public:
  virtual ~ReadableFile() = default;
  // Reads up to `n` bytes at `offset` into `out` (resized to what was read; short at end of file).
  virtual Status ReadAt(uint64_t offset, size_t n, std::string* out) const = 0;
  virtual uint64_t Size() const = 0;
};

struct FileStatus {
  bool is_directory = false;
  bool is_symlink = false;  // the path itself is a symbolic link (size etc. are the target's)
  bool is_other = false;    // neither a regular file nor a directory: a FIFO, socket or device
  uint64_t size = 0;
  int64_t modified_unix_ms = 0;
};

struct DirectoryEntry {
  std::string name;  // the entry's name inside the directory, not a path
  bool is_directory = false;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // Creates or truncates `path`. Its parent directory must exist.
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) = 0;
  virtual Result<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& path) = 0;

  // Replaces `to` atomically if it exists.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status DeleteFile(const std::string& path) = 0;
  // Deletes a directory and everything below it; OK if it does not exist.
  virtual Status DeleteRecursively(const std::string& path) = 0;
  // Creates the directory and its missing parents; OK if it exists.
  virtual Status CreateDirs(const std::string& path) = 0;
  // Makes the directory's entries (created, renamed, deleted files) durable.
  virtual Status SyncDir(const std::string& path) = 0;
  // NotFound when the path does not exist.
  virtual Result<FileStatus> Stat(const std::string& path) = 0;
  virtual Result<std::vector<DirectoryEntry>> ListDir(const std::string& path) = 0;
  // Hard-links `from` to `to` where the file system can; NotSupported otherwise.
  virtual Status Link(const std::string& from, const std::string& to) = 0;
  // Whether a path can be a symbolic link here (object stores: no). OwnedDirectory checks every
  // component of a path it deletes where links exist.
  virtual bool HasSymbolicLinks() const { return true; }

  // --- helpers built on the primitives above ---

  Result<bool> Exists(const std::string& path);
  Result<std::string> ReadFileToString(const std::string& path);
  // The one way to publish a file atomically: readers see either no file or all of `data`. By
  // default: write "<path>.tmp-<random>", fsync it, rename it to `path`, fsync the directory;
  // object stores override it with one PUT.
  virtual Status PublishAtomically(const std::string& path, std::string_view data);
  // Creates or truncates `path` holding `data`, durable when it returns (its directory entry is
  // not: SyncDir). By default through NewWritableFile; POSIX writes large files around the page
  // cache (O_DIRECT) where the file system allows it, which spares a copy of every byte.
  virtual Status WriteDurably(const std::string& path, std::string_view data);
};

struct PosixOptions {
  // Files 0600 and directories 0700 instead of 0644 / 0755 (before the umask).
  bool owner_only = false;
};
std::shared_ptr<FileSystem> NewPosixFileSystem(PosixOptions options = {});

// The local file system that connectors writing local files (the file sink) use: POSIX, unless
// a test hook (`weir run` with WEIR_POWER_LOSS_JOURNAL) replaced it. Thread-safe.
std::shared_ptr<FileSystem> DefaultLocalFileSystem();
void SetDefaultLocalFileSystem(std::shared_ptr<FileSystem> fs);

// A storage path as weir uses it everywhere: a plain local path ("file://" removed: "file:///a"
// is "/a"), or "s3://bucket/key" (Flink's "s3a://" and "s3p://" become "s3://"). Any other
// "<scheme>://" is refused with InvalidArgument naming the scheme, never taken as a relative
// local path.
Result<std::string> NormalizeStoragePath(std::string_view path);

// Path helpers for '/'-separated paths.
std::string JoinPath(std::string_view a, std::string_view b);
std::string ParentPath(std::string_view path);  // "" for a bare name
std::string BaseName(std::string_view path);

}  // namespace weir
