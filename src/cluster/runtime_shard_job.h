// RuntimeShardJob: a shard of a scaled-out job run as a weir job (JobRuntime) — the ShardJob the
// `weir worker` command's factory makes. It restores from the shard's latest checkpoint without
// claiming it (the former owner's directory stays as it is until this owner's first checkpoint is
// recorded: a paused former owner may still write there), checkpoints into a job directory of
// its own under `<shard dir>/epoch-<E>/`, deletes the former epochs' directories once its first
// checkpoint is recorded (former_epochs.h), and
// completes every checkpoint and savepoint only through the fence. A handoff is a checkpoint
// requested now and, once it completed, a cancellation: what the job processed after it is
// replayed by the next owner.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <thread>

#include "cluster/worker.h"
#include "runtime/job_runtime.h"

namespace weir::cluster {

class RuntimeShardJob final : public ShardJob {
 public:
  // `config`: the job's configuration (its checkpoint interval at least); the checkpoint
  // directory, the restore path and mode are set here.
  static Result<std::unique_ptr<RuntimeShardJob>> Create(
      JobGraph graph, Configuration config, const std::string& shard_dir, int64_t epoch,
      const std::optional<ShardCheckpoint>& restore, CheckpointFence fence,
      const std::string& local_recovery_scope = "");
  ~RuntimeShardJob() override;

  Status Run() override;
  void StopWithFinalCheckpoint(std::function<void()> stopping) override;
  void Cancel() override { job_->Cancel(); }
  bool finished() const override { return finished_; }
  void DeleteLostRunFiles(int64_t recorded_epoch) override;
  JobRuntime& runtime() { return *job_; }

 private:
  RuntimeShardJob(std::unique_ptr<JobRuntime> job, std::string shard_dir, int64_t epoch)
      : job_(std::move(job)), shard_dir_(std::move(shard_dir)), epoch_(epoch) {}
  void OnCheckpointRecorded();

  std::unique_ptr<JobRuntime> job_;
  const std::string shard_dir_;
  const int64_t epoch_;
  std::atomic<bool> swept_{false};
  std::thread sweeper_;
  std::atomic<bool> finished_{false};
  std::atomic<bool> ended_{false};
  std::thread stopper_;
};

}  // namespace weir::cluster
