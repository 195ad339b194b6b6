// FaultInjectingFileSystem: a FileSystem that wraps another one and, on command, fails
// operations, slows them down, or (over a local file system) simulates a machine crash by
// dropping everything that was not made durable. For tests of storage that misbehaves.
//
// Faults are rules: an operation kind (or any), a path substring (or any path), which matching
// operation fails (every one, or only the n-th), how many times at most, and whether the error is
// transient (IOError marked retryable) or permanent. Latency rules delay matching operations.
//
// Crash simulation tracks what went through this wrapper since the last `DropUnsyncedData()`:
// bytes appended after a file's last Sync() are cut off; files created, and renames done, in a
// directory whose SyncDir() did not follow are undone (a created file is deleted, a rename is
// reversed). Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "io/file_system.h"
#include "io/unsynced_data_tracker.h"

namespace weir::testing {

enum class FsOp {
  kAny,
  kCreate,  // NewWritableFile
  kAppend,
  kSync,
  kOpen,  // NewReadableFile
  kRead,
  kRename,
  kDelete,  // DeleteFile and DeleteRecursively
  kCreateDirs,
  kSyncDir,
  kStat,
  kList,
  kLink,
};

struct FaultRule {
  FsOp op = FsOp::kAny;
  std::string path_contains;  // empty: any path
  int nth = 0;                // 0: every matching operation; n: only the n-th one
  int times = -1;             // failures at most (-1: unlimited)
  bool transient = true;      // retryable IOError, else a permanent one
  int latency_ms = 0;         // > 0: delay matching operations instead of failing them
};

class FaultInjectingFileSystem final : public FileSystem {
 public:
  explicit FaultInjectingFileSystem(std::shared_ptr<FileSystem> base);

  void AddRule(FaultRule rule);
  void ClearRules();
  // Injected failures so far.
  int failures() const;

  // Simulates a machine crash of the data written through this wrapper (see above).
  Status DropUnsyncedData();

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  Result<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status DeleteFile(const std::string& path) override;
  Status DeleteRecursively(const std::string& path) override;
  bool HasSymbolicLinks() const override { return base_->HasSymbolicLinks(); }
  Status CreateDirs(const std::string& path) override;
  Status SyncDir(const std::string& path) override;
  Result<FileStatus> Stat(const std::string& path) override;
  Result<std::vector<DirectoryEntry>> ListDir(const std::string& path) override;
  Status Link(const std::string& from, const std::string& to) override;

  // Called by the wrapped files.
  Status Check(FsOp op, const std::string& path);
  void RecordAppend(const std::string& path, uint64_t size);
  void RecordSync(const std::string& path, uint64_t size);

 private:
  struct RuleState {
    FaultRule rule;
    int matched = 0;
    int fired = 0;
  };
  std::shared_ptr<FileSystem> base_;
  mutable std::mutex mu_;
  std::vector<RuleState> rules_;
  int failures_ = 0;
  UnsyncedDataTracker tracker_;  // what went through this wrapper
};

}  // namespace weir::testing
