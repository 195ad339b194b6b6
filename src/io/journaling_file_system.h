// JournalingFileSystem: a local FileSystem that appends each operation that matters for
// durability (create, append, sync, rename, delete, link, directory sync) to a journal file, one
// write(2) per entry, so the journal survives the process being killed with SIGKILL. After the
// kill, SimulatePowerLoss() replays the journal and drops what a machine crash at that moment
// would have taken (see UnsyncedDataTracker): a crash test can thus cut the power of a separate
// `weir run` process. `weir run` uses it only when WEIR_POWER_LOSS_JOURNAL names a journal file
// (a test hook, like WEIR_FAILPOINTS).
//
// Entries that could claim too much are written before the operation (a create, an append's new
// size, a rename), syncs only after they succeeded, so a kill between the two errs towards
// dropping more.
#pragma once

#include <memory>
#include <string>

#include "io/file_system.h"

namespace weir {

class JournalingFileSystem final : public FileSystem {
 public:
  static Result<std::shared_ptr<JournalingFileSystem>> Open(std::shared_ptr<FileSystem> base,
                                                            const std::string& journal_path);
  ~JournalingFileSystem() override;

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  Result<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& path) override {
    return base_->NewReadableFile(path);
  }
  Status Rename(const std::string& from, const std::string& to) override;
  Status DeleteFile(const std::string& path) override;
  Status DeleteRecursively(const std::string& path) override;
  bool HasSymbolicLinks() const override { return base_->HasSymbolicLinks(); }
  Status CreateDirs(const std::string& path) override { return base_->CreateDirs(path); }
  Status SyncDir(const std::string& path) override;
  Result<FileStatus> Stat(const std::string& path) override { return base_->Stat(path); }
  Result<std::vector<DirectoryEntry>> ListDir(const std::string& path) override {
    return base_->ListDir(path);
  }
  Status Link(const std::string& from, const std::string& to) override;

  // One entry: a kind letter and its fields, tab-separated.
  void Record(char kind, const std::string& a, const std::string& b = {});

 private:
  JournalingFileSystem(std::shared_ptr<FileSystem> base, int fd)
      : base_(std::move(base)), fd_(fd) {}
  std::shared_ptr<FileSystem> base_;
  int fd_;
};

// Replays the journal and applies to `fs` what a power loss at its end would have dropped.
Status SimulatePowerLoss(const std::string& journal_path, FileSystem& fs);

}  // namespace weir
