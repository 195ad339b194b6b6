#include "state/rocksdb/incremental_snapshot_strategy.h"

#include <future>

#include "common/failpoint.h"
#include "common/log.h"
#include "common/random_hex.h"
#include "common/retry.h"
#include "io/owned_directory.h"
#include "snapshot/file_transfer.h"
#include "state/rocksdb/incremental_upload_plan.h"

namespace weir {

SstBaseTracker::Base SstBaseTracker::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return base_;
}

void SstBaseTracker::Record(uint64_t checkpoint_id,
                            std::map<std::string, StateFileHandle> sst_files) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_[checkpoint_id] = std::move(sst_files);
}

void SstBaseTracker::Complete(uint64_t checkpoint_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(checkpoint_id);
  if (it == pending_.end()) return;  // not ours (or already superseded)
  if (!base_.checkpoint_id || checkpoint_id > *base_.checkpoint_id) {
    base_ = Base{checkpoint_id, std::move(it->second)};
  }
  // Older pending snapshots can never become the base any more.
  pending_.erase(pending_.begin(), std::next(it));
}

void SstBaseTracker::Abort(uint64_t checkpoint_id) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_.erase(checkpoint_id);
}

void SstBaseTracker::SetBase(uint64_t checkpoint_id,
                             std::map<std::string, StateFileHandle> sst_files) {
  std::lock_guard<std::mutex> lock(mu_);
  base_ = Base{checkpoint_id, std::move(sst_files)};
  pending_.clear();
}

namespace {

// "000123.sst" -> "000123"
std::string FileNumber(const std::string& sst_name) {
  return sst_name.substr(0, sst_name.size() - 4);
}

class IncrementalAsyncPart final : public AsyncSnapshotPart {
 public:
  struct Params {
    uint64_t checkpoint_id;
    std::string backend_id;
    int max_parallelism;
    KeyGroupRange range;
    std::vector<StateMetaInfo> states;
    std::string local_checkpoint_dir;
    std::unique_ptr<NativeCheckpoint> native;  // its files: known once finished
    SstBaseTracker::Base base;
    // A native savepoint: every file is its own, in its directory; it is never a base.
    bool savepoint = false;
    // A materialization: every file in shared/, written outside any checkpoint.
    bool materialization = false;
  };

  IncrementalAsyncPart(Params p, CheckpointStorage storage, ThreadPool& io_pool,
                       std::shared_ptr<SstBaseTracker> tracker,
                       std::shared_ptr<const LocalRecoveryCopy> local_copy)
      : p_(std::move(p)),
        storage_(std::move(storage)),
        io_pool_(io_pool),
        tracker_(std::move(tracker)),
        local_copy_(std::move(local_copy)),
        local_fs_(NewPosixFileSystem()) {}

  ~IncrementalAsyncPart() override { RemoveLocalCheckpoint(); }

  Result<KeyedStateHandle> Run() override {
    auto handle = Upload();
    if (handle.ok() && local_copy_ && !p_.savepoint && !p_.materialization) {
      // Local recovery: the uploaded native checkpoint stays as the local copy of checkpoint N.
      if (Status kept = local_copy_->Keep(p_.checkpoint_id, p_.local_checkpoint_dir); kept.ok()) {
        p_.local_checkpoint_dir.clear();
      } else {
        LogWarn("local recovery: backend " + p_.backend_id + ", checkpoint " +
                std::to_string(p_.checkpoint_id) + ": " + kept.ToString());
      }
    }
    RemoveLocalCheckpoint();
    if (!handle.ok()) {
      DeleteUploaded();
      return handle.status().WithContext("incremental snapshot of backend " + p_.backend_id +
                                         " for checkpoint " + std::to_string(p_.checkpoint_id));
    }
    return handle;
  }

 private:
  struct Upload {
    LocalFile local;
    std::string relative;  // destination, relative to the job directory
    StateFileRole role;
  };

  Result<KeyedStateHandle> Upload() {
    WEIR_ASSIGN_OR_RETURN(const std::vector<LocalFile> files, p_.native->Finish());
    p_.native.reset();  // releases the RocksDB snapshot it held
    WEIR_FAILPOINT("incremental.after_native_checkpoint");
    const IncrementalUploadPlan plan = PlanIncrementalUpload(files, p_.base.sst_files);
    const std::string private_dir =
        p_.materialization ? std::string(kSharedDirName)
                           : storage_.RelativePrivateFile(p_.checkpoint_id, p_.backend_id);
    // A materialization's private files share one random part: they are one set.
    const std::string private_prefix = p_.materialization ? p_.backend_id + "-materialization-" +
                                                                std::to_string(p_.checkpoint_id) +
                                                                "-" + RandomHex(12) + "-"
                                                          : std::string();
    const StateFileRole private_role =
        p_.materialization ? StateFileRole::kMaterialization : StateFileRole::kPrivate;
    std::vector<struct Upload> uploads;
    for (const auto& f : plan.new_shared) {
      if (p_.savepoint) {
        uploads.push_back({f, JoinPath(private_dir, f.name), StateFileRole::kPrivate});
        continue;
      }
      uploads.push_back({f,
                         JoinPath(kSharedDirName, p_.backend_id + "-" + FileNumber(f.name) + "-" +
                                                      RandomHex(12) + ".sst"),
                         StateFileRole::kShared});
    }
    for (const auto& f : plan.private_files) {
      uploads.push_back({f, JoinPath(private_dir, private_prefix + f.name), private_role});
    }
    if (!p_.savepoint) WEIR_RETURN_IF_ERROR(storage_.fs().CreateDirs(storage_.SharedDir()));
    WEIR_ASSIGN_OR_RETURN(const std::string private_abs, storage_.ResolveRelative(private_dir));
    WEIR_RETURN_IF_ERROR(storage_.fs().CreateDirs(private_abs));

    std::vector<std::future<Result<WrittenFile>>> futures;
    for (const auto& u : uploads) {
      futures.push_back(io_pool_.Submit([this, u]() -> Result<WrittenFile> {
        WEIR_FAILPOINT("incremental.upload");
        WEIR_ASSIGN_OR_RETURN(const std::string to, storage_.ResolveRelative(u.relative));
        {
          std::lock_guard<std::mutex> lock(mu_);
          attempted_.push_back(u.relative);
        }
        return RetryRetryableResult<WrittenFile>("upload of " + u.relative, [&] {
          return CopyFile(*local_fs_, JoinPath(p_.local_checkpoint_dir, u.local.name),
                          storage_.fs(), to);
        });
      }));
    }
    Status first_error;
    std::vector<WrittenFile> written(uploads.size());
    for (size_t i = 0; i < futures.size(); ++i) {
      auto r = futures[i].get();  // wait for every upload, even after a failure
      if (!r.ok() && first_error.ok()) first_error = r.status();
      if (r.ok()) written[i] = *r;
    }
    WEIR_RETURN_IF_ERROR(first_error);
    if (!p_.savepoint) WEIR_RETURN_IF_ERROR(storage_.fs().SyncDir(storage_.SharedDir()));
    if (!p_.materialization) {
      WEIR_RETURN_IF_ERROR(storage_.fs().SyncDir(private_abs));
      WEIR_RETURN_IF_ERROR(storage_.fs().SyncDir(storage_.CheckpointDir(p_.checkpoint_id)));
    }
    WEIR_FAILPOINT("incremental.after_uploads");

    KeyedStateHandle h;
    h.backend_id = p_.backend_id;
    h.max_parallelism = p_.max_parallelism;
    h.key_group_range = p_.range;
    h.kind = BackendSnapshotKind::kIncremental;
    h.states = p_.states;
    std::map<std::string, StateFileHandle> ssts;
    for (const auto& reused : plan.reused) {
      h.files.push_back(reused);
      ssts[reused.local_name] = reused;
    }
    // A materialization's files are written outside any checkpoint: the checkpoints that
    // reference them hold them (CompletedCheckpointStore::HoldForPending).
    const uint64_t written_by = p_.materialization ? 0 : p_.checkpoint_id;
    for (size_t i = 0; i < uploads.size(); ++i) {
      StateFileHandle f{uploads[i].relative, written[i].size,       written[i].checksum,
                        uploads[i].role,     uploads[i].local.name, written_by};
      h.checkpointed_bytes += f.size;
      if (f.role == StateFileRole::kShared) ssts[f.local_name] = f;
      h.files.push_back(std::move(f));
    }
    for (const auto& f : h.files) h.full_bytes += f.size;
    if (!p_.savepoint) tracker_->Record(p_.checkpoint_id, std::move(ssts));
    return h;
  }

  // Nothing references the files of a failed snapshot: delete them (best effort; a crash here
  // leaves orphans that `weir checkpoints gc` finds).
  void DeleteUploaded() {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& relative : attempted_) (void)storage_.owned().DeleteFile(relative);
    attempted_.clear();
  }

  void RemoveLocalCheckpoint() {
    if (!p_.local_checkpoint_dir.empty()) {
      (void)DeleteLocalDirectory(p_.local_checkpoint_dir);
      p_.local_checkpoint_dir.clear();
    }
  }

  Params p_;
  CheckpointStorage storage_;
  ThreadPool& io_pool_;
  std::shared_ptr<SstBaseTracker> tracker_;
  std::shared_ptr<const LocalRecoveryCopy> local_copy_;  // null: local recovery off
  std::shared_ptr<FileSystem> local_fs_;
  std::mutex mu_;
  std::vector<std::string> attempted_;  // relative paths of every upload started
};

}  // namespace

IncrementalSnapshotStrategy::IncrementalSnapshotStrategy(RocksDbKeyedStateBackend& backend,
                                                         const CheckpointStorage& storage,
                                                         ThreadPool& io_pool, bool local_copies)
    : backend_(backend),
      storage_(storage),
      io_pool_(io_pool),
      tracker_(std::make_shared<SstBaseTracker>()) {
  if (local_copies && !backend.local_recovery_dir().empty()) {
    local_copy_ = std::make_shared<LocalRecoveryCopy>(backend.local_recovery_dir());
  }
}

void IncrementalSnapshotStrategy::NotifyCheckpointComplete(uint64_t checkpoint_id) {
  tracker_->Complete(checkpoint_id);
  if (local_copy_) local_copy_->Confirm(checkpoint_id);
}

void IncrementalSnapshotStrategy::NotifyCheckpointAborted(uint64_t checkpoint_id) {
  tracker_->Abort(checkpoint_id);
  if (local_copy_) local_copy_->Discard(checkpoint_id);
}

std::string IncrementalSnapshotStrategy::LocalCheckpointDir(const std::string& local_dir,
                                                            uint64_t checkpoint_id) {
  return local_dir + "/checkpoints/chk-" + std::to_string(checkpoint_id);
}

Result<std::unique_ptr<AsyncSnapshotPart>> IncrementalSnapshotStrategy::SyncPart(
    uint64_t checkpoint_id, const CheckpointOptions& options) {
  if (options.is_savepoint() && !options.target) {
    return Status::InvalidArgument("savepoint " + std::to_string(checkpoint_id) +
                                   " has no target directory");
  }
  IncrementalAsyncPart::Params p;
  p.savepoint = options.is_savepoint();
  p.materialization = options.is_materialization();
  p.checkpoint_id = checkpoint_id;
  p.backend_id = backend_.backend_id();
  p.max_parallelism = backend_.max_parallelism();
  p.range = backend_.key_group_range();
  p.states = backend_.RegisteredStates();
  p.local_checkpoint_dir = LocalCheckpointDir(backend_.local_dir(), checkpoint_id);
  // A full checkpoint and a savepoint reference nothing earlier: every file is uploaded.
  if (options.may_reuse_files()) p.base = tracker_->Current();
  auto local_fs = NewPosixFileSystem();
  WEIR_RETURN_IF_ERROR(DeleteLocalDirectory(p.local_checkpoint_dir));  // a stale attempt
  WEIR_RETURN_IF_ERROR(local_fs->CreateDirs(ParentPath(p.local_checkpoint_dir)));
  NativeCheckpointOptions native_options;
  native_options.merge_level0 = p.materialization;
  for (const auto& [local_name, file] : p.base.sst_files)
    native_options.uploaded.insert(local_name);
  auto native = backend_.BeginNativeCheckpoint(p.local_checkpoint_dir, std::move(native_options));
  if (!native.ok()) {
    (void)DeleteLocalDirectory(p.local_checkpoint_dir);
    return native.status();
  }
  p.native = std::move(native).value();
  const CheckpointStorage& to = p.savepoint ? *options.target : storage_;
  return std::unique_ptr<AsyncSnapshotPart>(
      new IncrementalAsyncPart(std::move(p), to, io_pool_, tracker_, local_copy_));
}

void IncrementalSnapshotStrategy::RestoredFrom(uint64_t checkpoint_id,
                                               const KeyedStateHandle& restored, bool owned) {
  if (owned && restored.kind == BackendSnapshotKind::kIncremental) {
    SetBaseFromRestore(checkpoint_id, restored);
  }
}

void IncrementalSnapshotStrategy::SetBaseFromRestore(uint64_t checkpoint_id,
                                                     const KeyedStateHandle& restored) {
  std::map<std::string, StateFileHandle> ssts;
  if (restored.kind == BackendSnapshotKind::kIncremental) {
    for (const auto& f : restored.files) {
      if (f.role == StateFileRole::kShared) ssts[f.local_name] = f;
    }
  }
  tracker_->SetBase(checkpoint_id, std::move(ssts));
}

}  // namespace weir
