#include "testing/fault_injecting_file_system.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace weir::testing {
namespace {

const char* OpName(FsOp op) {
  switch (op) {
    case FsOp::kAny:
      return "any";
    case FsOp::kCreate:
      return "create";
    case FsOp::kAppend:
      return "append";
    case FsOp::kSync:
      return "sync";
    case FsOp::kOpen:
      return "open";
    case FsOp::kRead:
      return "read";
    case FsOp::kRename:
      return "rename";
    case FsOp::kDelete:
      return "delete";
    case FsOp::kCreateDirs:
      return "create dirs";
    case FsOp::kSyncDir:
      return "sync dir";
    case FsOp::kStat:
      return "stat";
    case FsOp::kList:
      return "list";
    case FsOp::kLink:
      return "link";
  }
  return "?";
}

class FaultyWritableFile final : public WritableFile {
 public:
  FaultyWritableFile(FaultInjectingFileSystem* fs, std::string path,
                     std::unique_ptr<WritableFile> base)
      : fs_(fs), path_(std::move(path)), base_(std::move(base)) {}
  Status Append(std::string_view data) override {
    WEIR_RETURN_IF_ERROR(fs_->Check(FsOp::kAppend, path_));
    WEIR_RETURN_IF_ERROR(base_->Append(data));
    fs_->RecordAppend(path_, base_->Size());
    return Status::OK();
  }
  Status Sync() override {
    WEIR_RETURN_IF_ERROR(fs_->Check(FsOp::kSync, path_));
    WEIR_RETURN_IF_ERROR(base_->Sync());
    fs_->RecordSync(path_, base_->Size());
    return Status::OK();
  }
  Status Close() override { return base_->Close(); }
  uint64_t Size() const override { return base_->Size(); }

 private:
  FaultInjectingFileSystem* fs_;
  std::string path_;
  std::unique_ptr<WritableFile> base_;
};

class FaultyReadableFile final : public ReadableFile {
 public:
  FaultyReadableFile(FaultInjectingFileSystem* fs, std::string path,
                     std::unique_ptr<ReadableFile> base)
      : fs_(fs), path_(std::move(path)), base_(std::move(base)) {}
  Status ReadAt(uint64_t offset, size_t n, std::string* out) const override {
    WEIR_RETURN_IF_ERROR(fs_->Check(FsOp::kRead, path_));
    return base_->ReadAt(offset, n, out);
  }
  uint64_t Size() const override { return base_->Size(); }

 private:
  FaultInjectingFileSystem* fs_;
  std::string path_;
  std::unique_ptr<ReadableFile> base_;
};

}  // namespace

FaultInjectingFileSystem::FaultInjectingFileSystem(std::shared_ptr<FileSystem> base)
    : base_(std::move(base)) {}

void FaultInjectingFileSystem::AddRule(FaultRule rule) {
  std::lock_guard<std::mutex> lock(mu_);
  rules_.push_back({std::move(rule), 0, 0});
}

void FaultInjectingFileSystem::ClearRules() {
  std::lock_guard<std::mutex> lock(mu_);
  rules_.clear();
}

int FaultInjectingFileSystem::failures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failures_;
}

Status FaultInjectingFileSystem::Check(FsOp op, const std::string& path) {
  int delay_ms = 0;
  Status injected;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& r : rules_) {
      if (r.rule.op != FsOp::kAny && r.rule.op != op) continue;
      if (!r.rule.path_contains.empty() && path.find(r.rule.path_contains) == std::string::npos) {
        continue;
      }
      ++r.matched;
      if (r.rule.latency_ms > 0) {
        delay_ms = std::max(delay_ms, r.rule.latency_ms);
        continue;
      }
      if (r.rule.nth > 0 && r.matched != r.rule.nth) continue;
      if (r.rule.times >= 0 && r.fired >= r.rule.times) continue;
      ++r.fired;
      ++failures_;
      injected = Status::IOError(std::string("injected ") +
                                     (r.rule.transient ? "transient" : "permanent") + " " +
                                     OpName(op) + " failure: " + path,
                                 r.rule.transient);
      break;
    }
  }
  if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  return injected;
}

void FaultInjectingFileSystem::RecordAppend(const std::string& path, uint64_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  tracker_.Appended(path, size);
}

void FaultInjectingFileSystem::RecordSync(const std::string& path, uint64_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  tracker_.Synced(path, size);
}

Result<std::unique_ptr<WritableFile>> FaultInjectingFileSystem::NewWritableFile(
    const std::string& path) {
  WEIR_RETURN_IF_ERROR(Check(FsOp::kCreate, path));
  WEIR_ASSIGN_OR_RETURN(auto base, base_->NewWritableFile(path));
  {
    std::lock_guard<std::mutex> lock(mu_);
    tracker_.Created(path);
  }
  return std::unique_ptr<WritableFile>(
      std::make_unique<FaultyWritableFile>(this, path, std::move(base)));
}

Result<std::unique_ptr<ReadableFile>> FaultInjectingFileSystem::NewReadableFile(
    const std::string& path) {
  WEIR_RETURN_IF_ERROR(Check(FsOp::kOpen, path));
  WEIR_ASSIGN_OR_RETURN(auto base, base_->NewReadableFile(path));
  return std::unique_ptr<ReadableFile>(
      std::make_unique<FaultyReadableFile>(this, path, std::move(base)));
}

Status FaultInjectingFileSystem::Rename(const std::string& from, const std::string& to) {
  WEIR_RETURN_IF_ERROR(Check(FsOp::kRename, from));
  WEIR_RETURN_IF_ERROR(base_->Rename(from, to));
  std::lock_guard<std::mutex> lock(mu_);
  tracker_.Renamed(from, to);
  return Status::OK();
}

Status FaultInjectingFileSystem::DeleteFile(const std::string& path) {
  WEIR_RETURN_IF_ERROR(Check(FsOp::kDelete, path));
  WEIR_RETURN_IF_ERROR(base_->DeleteFile(path));
  std::lock_guard<std::mutex> lock(mu_);
  tracker_.Deleted(path);
  return Status::OK();
}

Status FaultInjectingFileSystem::DeleteRecursively(const std::string& path) {
  WEIR_RETURN_IF_ERROR(Check(FsOp::kDelete, path));
  WEIR_RETURN_IF_ERROR(base_->DeleteRecursively(path));
  std::lock_guard<std::mutex> lock(mu_);
  tracker_.Deleted(path);
  return Status::OK();
}

Status FaultInjectingFileSystem::CreateDirs(const std::string& path) {
  WEIR_RETURN_IF_ERROR(Check(FsOp::kCreateDirs, path));
  return base_->CreateDirs(path);
}

Status FaultInjectingFileSystem::SyncDir(const std::string& path) {
  WEIR_RETURN_IF_ERROR(Check(FsOp::kSyncDir, path));
  WEIR_RETURN_IF_ERROR(base_->SyncDir(path));
  std::lock_guard<std::mutex> lock(mu_);
  tracker_.DirSynced(path);
  return Status::OK();
}

Result<FileStatus> FaultInjectingFileSystem::Stat(const std::string& path) {
  WEIR_RETURN_IF_ERROR(Check(FsOp::kStat, path));
  return base_->Stat(path);
}

Result<std::vector<DirectoryEntry>> FaultInjectingFileSystem::ListDir(const std::string& path) {
  WEIR_RETURN_IF_ERROR(Check(FsOp::kList, path));
  return base_->ListDir(path);
}

Status FaultInjectingFileSystem::Link(const std::string& from, const std::string& to) {
  WEIR_RETURN_IF_ERROR(Check(FsOp::kLink, from));
  WEIR_RETURN_IF_ERROR(base_->Link(from, to));
  std::lock_guard<std::mutex> lock(mu_);
  tracker_.Created(to);
  return Status::OK();
}

Status FaultInjectingFileSystem::DropUnsyncedData() {
  std::lock_guard<std::mutex> lock(mu_);
  return tracker_.DropUnsynced(*base_);
}

}  // namespace weir::testing
