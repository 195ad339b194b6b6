#include "cluster/runtime_shard_job.h"

#include <chrono>

#include "cluster/former_epochs.h"
#include "common/log.h"
#include "io/owned_directory.h"

namespace weir::cluster {

Result<std::unique_ptr<RuntimeShardJob>> RuntimeShardJob::Create(
    JobGraph graph, Configuration config, const std::string& shard_dir, int64_t epoch,
    const std::optional<ShardCheckpoint>& restore, CheckpointFence fence,
    const std::string& local_recovery_scope) {
  if (config.Get(config::kInterval).count() <= 0) {
    return Status::InvalidArgument(std::string(config::kInterval) +
                                   " must be set: a shard moves between processes by its "
                                   "checkpoints");
  }
  WEIR_RETURN_IF_ERROR(config.Set(config::kCheckpointsDir, shard_dir + "/" + EpochDirName(epoch)));
  WEIR_RETURN_IF_ERROR(config.Set(config::kRestoreMode, "NO_CLAIM"));
  WEIR_RETURN_IF_ERROR(config.Set(config::kRetention, "RETAIN_ON_CANCELLATION"));
  if (restore) WEIR_RETURN_IF_ERROR(config.Set(config::kSavepointPath, restore->path));
  WEIR_ASSIGN_OR_RETURN(
      std::unique_ptr<JobRuntime> job,
      JobRuntime::Create(std::move(graph), config, nullptr, local_recovery_scope));
  std::unique_ptr<RuntimeShardJob> shard(new RuntimeShardJob(std::move(job), shard_dir, epoch));
  RuntimeShardJob* self = shard.get();
  WEIR_RETURN_IF_ERROR(self->job_->SetCompletionFence(
      [self, fence = std::move(fence)](const CheckpointMetadata& m, const std::string& path) {
        const bool savepoint = IsSavepoint(m.kind);
        Status s = fence(m.checkpoint_id, path, savepoint);
        if (s.ok() && !savepoint) self->OnCheckpointRecorded();
        return s;
      }));
  return shard;
}

RuntimeShardJob::~RuntimeShardJob() {
  if (stopper_.joinable()) stopper_.join();
  if (sweeper_.joinable()) sweeper_.join();
}

void RuntimeShardJob::DeleteLostRunFiles(int64_t recorded_epoch) {
  const CheckpointStorage* storage = job_->checkpoint_storage();
  if (storage == nullptr || recorded_epoch <= epoch_) return;
  if (sweeper_.joinable()) sweeper_.join();
  // This run created its job directory: it is weir's even if the new owner's sweep already took
  // its marker away (a paused run may have written on after it). Run has returned: nothing
  // writes there any more.
  Status s = OwnedDirectory(storage->shared_fs(), storage->job_dir()).DeleteAll();
  auto former = DeleteFormerEpochs(storage->shared_fs(), shard_dir_, recorded_epoch);
  if (s.ok()) s = former.status();
  if (!s.ok()) {
    LogWarn("shard directory " + shard_dir_ + ": deleting the checkpoints of a run that lost " +
            "the shard: " + s.ToString() + " (what is left stays for weir checkpoints gc)");
    return;
  }
  LogInfo("deleted " + storage->job_dir() + ": the shard's owner at epoch " +
          std::to_string(recorded_epoch) + " has checkpointed");
}

void RuntimeShardJob::OnCheckpointRecorded() {
  // The first checkpoint recorded at this epoch is full: from now on no one restores from a
  // former owner's directory. Deleted off the completion path (on S3 it is many requests).
  if (swept_.exchange(true)) return;
  const CheckpointStorage* storage = job_->checkpoint_storage();
  if (storage == nullptr) return;
  std::shared_ptr<FileSystem> fs = storage->shared_fs();
  sweeper_ = std::thread([fs, dir = shard_dir_, epoch = epoch_] {
    auto deleted = DeleteFormerEpochs(fs, dir, epoch);
    if (!deleted.ok()) {
      LogWarn("shard directory " + dir + ": deleting former owners' checkpoints: " +
              deleted.status().ToString() + " (what is left stays for weir checkpoints gc)");
    } else if (*deleted > 0) {
      LogInfo("shard directory " + dir + ": deleted " + std::to_string(*deleted) +
              " job directories of former owners (before epoch " + std::to_string(epoch) + ")");
    }
  });
}

Status RuntimeShardJob::Run() {
  const JobResult result = job_->Run();
  // A shard is marked finished once its run returns: by then its former owners' directories
  // are gone too (the sweep began at its first checkpoint; no checkpoint completes any more).
  if (sweeper_.joinable()) sweeper_.join();
  LogInfo("job " + job_->job_id() + " ended");
  ended_ = true;
  finished_ = result.outcome == JobOutcome::kFinished;
  if (result.outcome == JobOutcome::kFailed) return result.status;
  return Status::OK();
}

void RuntimeShardJob::StopWithFinalCheckpoint(std::function<void()> stopping) {
  if (stopper_.joinable()) return;
  stopper_ = std::thread([this, stopping = std::move(stopping)] {
    // A checkpoint now; once it completed (recorded through the fence), cancel. If it cannot
    // be taken (the job is restarting or ending), cancel at once: the next owner resumes from
    // the latest recorded checkpoint, so nothing is lost either way, only replayed.
    auto request = job_->TriggerCheckpoint(CheckpointRequestType::kConfigured);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (request.ok() && !ended_ && std::chrono::steady_clock::now() < deadline) {
      const auto status = job_->RequestStatus(*request);
      if (!status || status->state != ControlRequestStatus::State::kInProgress) {
        if (status && status->state == ControlRequestStatus::State::kFailed) {
          LogWarn("the final checkpoint of a handoff failed (" + status->failure +
                  "); the next owner resumes from the one before");
        }
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    LogInfo("job " + job_->job_id() + ": handoff checkpoint done; cancelling");
    job_->Cancel();
    if (stopping) stopping();
  });
}

}  // namespace weir::cluster
