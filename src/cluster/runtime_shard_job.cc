#include "cluster/runtime_shard_job.h"

#include <chrono>

#include "common/log.h"

namespace weir::cluster {

Result<std::unique_ptr<RuntimeShardJob>> RuntimeShardJob::Create(
    JobGraph graph, Configuration config, const std::string& shard_dir,
    const std::optional<ShardCheckpoint>& restore, CheckpointFence fence) {
  if (config.Get(config::kInterval).count() <= 0) {
    return Status::InvalidArgument(std::string(config::kInterval) +
                                   " must be set: a shard moves between processes by its "
                                   "checkpoints");
  }
  WEIR_RETURN_IF_ERROR(config.Set(config::kCheckpointsDir, shard_dir));
  WEIR_RETURN_IF_ERROR(config.Set(config::kRestoreMode, "NO_CLAIM"));
  WEIR_RETURN_IF_ERROR(config.Set(config::kRetention, "RETAIN_ON_CANCELLATION"));
  if (restore) WEIR_RETURN_IF_ERROR(config.Set(config::kSavepointPath, restore->path));
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<JobRuntime> job,
                        JobRuntime::Create(std::move(graph), config));
  WEIR_RETURN_IF_ERROR(job->SetCompletionFence(
      [fence = std::move(fence)](const CheckpointMetadata& m, const std::string& path) {
        return fence(m.checkpoint_id, path, IsSavepoint(m.kind));
      }));
  return std::unique_ptr<RuntimeShardJob>(new RuntimeShardJob(std::move(job)));
}

RuntimeShardJob::~RuntimeShardJob() {
  if (stopper_.joinable()) stopper_.join();
}

Status RuntimeShardJob::Run() {
  const JobResult result = job_->Run();
  ended_ = true;
  finished_ = result.outcome == JobOutcome::kFinished;
  if (result.outcome == JobOutcome::kFailed) return result.status;
  return Status::OK();
}

void RuntimeShardJob::StopWithFinalCheckpoint() {
  if (stopper_.joinable()) return;
  stopper_ = std::thread([this] {
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
    job_->Cancel();
  });
}

}  // namespace weir::cluster
