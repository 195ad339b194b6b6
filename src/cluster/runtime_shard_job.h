// RuntimeShardJob: a shard of a scaled-out job run as a weir job (JobRuntime) — the ShardJob the
// `weir worker` command's factory makes. It restores from the shard's latest checkpoint without
// claiming it (the former owner's directory stays as it is: a paused former owner may still
// write there), checkpoints into a job directory of its own under the shard's directory, and
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
      JobGraph graph, Configuration config, const std::string& shard_dir,
      const std::optional<ShardCheckpoint>& restore, CheckpointFence fence);
  ~RuntimeShardJob() override;

  Status Run() override;
  void StopWithFinalCheckpoint() override;
  void Cancel() override { job_->Cancel(); }
  bool finished() const override { return finished_; }
  JobRuntime& runtime() { return *job_; }

 private:
  explicit RuntimeShardJob(std::unique_ptr<JobRuntime> job) : job_(std::move(job)) {}
  std::unique_ptr<JobRuntime> job_;
  std::atomic<bool> finished_{false};
  std::atomic<bool> ended_{false};
  std::thread stopper_;
};

}  // namespace weir::cluster
