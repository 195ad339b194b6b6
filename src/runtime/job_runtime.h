// JobRuntime: runs one job in this process. It plans the JobGraph into tasks (one thread per
// subtask of each chain), wires their channels, restores them from a checkpoint when asked,
// drives checkpoints (CheckpointCoordinator + CheckpointScheduler), and handles failure and
// restart.
//
// Run() blocks until the job finished (a bounded job: every source exhausted, all output
// committed by a final checkpoint), was cancelled (Cancel(), from any thread), or failed beyond
// its restart strategy. A failure (a task's error or exception, or checkpoint failures past
// `tolerable-failed-checkpoints`) stops every task; with `restart-strategy: fixed-delay` the job
// then restarts in-process from the latest completed checkpoint (or the checkpoint it was started
// from), with new checkpoint ids continuing upwards.
//
// Create() checks everything it can before anything runs or is written: the configuration, the
// job graph, the checkpoint to resume from and whether it fits the job. Errors name the thing.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_coordinator.h"
#include "checkpoint/checkpoint_scheduler.h"
#include "common/thread_pool.h"
#include "runtime/execution_plan.h"
#include "runtime/restore_assignment.h"
#include "runtime/task.h"
#include "weir/config.h"
#include "weir/job_graph.h"

namespace weir {

enum class JobOutcome { kFinished, kCancelled, kFailed };

// Where a job is in its life (Flink's names: CREATED, RUNNING, RESTARTING, FINISHED, CANCELED,
// FAILED).
enum class JobState { kCreated, kRunning, kRestarting, kFinished, kCancelled, kFailed };
const char* JobStateName(JobState s);

struct JobStatusView {
  JobState state = JobState::kCreated;
  int64_t start_unix_ms = 0;
  int64_t end_unix_ms = 0;  // 0 while not ended
  int restarts = 0;
};

struct JobResult {
  JobOutcome outcome = JobOutcome::kFailed;
  Status status;  // why it failed
  std::optional<uint64_t> latest_checkpoint;
  std::string latest_checkpoint_path;  // its _metadata
  int restarts = 0;
};

class JobRuntime final : public CheckpointListener, public TaskListener {
 public:
  // `config` may set execution.savepoint.path (the checkpoint to resume from) and
  // execution.savepoint-restore-mode.
  static Result<std::unique_ptr<JobRuntime>> Create(JobGraph graph, const Configuration& config,
                                                    std::shared_ptr<FileSystem> fs = nullptr);
  ~JobRuntime() override;

  JobResult Run();
  void Cancel();

  const std::string& job_id() const { return job_id_; }
  // Empty when the job writes no checkpoints.
  std::string job_dir() const { return storage_ ? storage_->job_dir() : std::string(); }
  const ExecutionPlan& plan() const { return plan_; }
  const JobGraph& graph() const { return graph_; }
  const Configuration& config() const { return config_; }
  // Thread-safe.
  JobStatusView status() const;
  // Checkpoint statistics; nullopt when the job takes no checkpoints. Thread-safe.
  std::optional<CheckpointStatsSnapshot> checkpoint_stats() const;
  // The retained completed checkpoints (empty without checkpointing) and their storage.
  // Thread-safe.
  std::vector<CheckpointMetadata> retained_checkpoints() const;
  const CheckpointStorage* checkpoint_storage() const { return storage_ ? &*storage_ : nullptr; }
  // Every running task's counters (since its last deployment). Thread-safe.
  std::vector<Task::Metrics> task_metrics() const;
  // The completed checkpoints among the statistics' history (web.checkpoints.history), oldest
  // first. Thread-safe.
  std::vector<CheckpointStats> completed_checkpoints() const;

  // CheckpointListener (called by the coordinator, from any thread)
  void NotifyCheckpointComplete(uint64_t checkpoint_id) override;
  void NotifyCheckpointAborted(uint64_t checkpoint_id) override;
  // TaskListener (called by tasks and async snapshot parts)
  void OnTaskFinished(const std::string& task_id) override;
  void OnTaskFailed(const std::string& task_id, const Status& status) override;
  void AcknowledgeCheckpoint(uint64_t checkpoint_id, TaskStateSnapshot snapshot) override;
  void DeclineCheckpoint(uint64_t checkpoint_id, const std::string& task_id,
                         const Status& reason) override;

 private:
  struct RestorePoint {
    CheckpointStorage storage;
    CheckpointMetadata metadata;
    bool owned;  // in this job's directory: its files may be built on
  };
  JobRuntime() = default;
  Status Deploy(const std::optional<RestorePoint>& restore);
  Result<std::unique_ptr<Task>> BuildTask(int vertex, int subtask,
                                          const std::optional<RestorePoint>& restore,
                                          const RestoreAssignment& assignment,
                                          std::vector<std::vector<TaskInbox*>>& inboxes,
                                          std::unique_ptr<TaskInbox> own_inbox);
  JobOutcome Supervise(Status* failure);
  void Trigger(int64_t now_ms, bool final);
  void Teardown();
  bool WaitForRestart(int64_t delay_ms);
  Status RecoverCoordinator(const std::optional<RestorePoint>& restored);
  static bool Unrestorable(const Status& s);
  // state.checkpoints.fallback-to-older: deploys from the newest older checkpoint of the same
  // directory that restores; `restore` then points to it. Returns the last damage otherwise.
  Status DeployOlderCheckpoint(std::optional<RestorePoint>* restore, Status damaged);
  void ReportFailed(uint64_t checkpoint_id);
  void SetState(JobState state, int restarts);
  void DeleteLocalWorkingDirectory();

  JobGraph graph_;
  ExecutionPlan plan_;
  Configuration config_;
  std::shared_ptr<FileSystem> fs_;
  std::string job_id_;
  std::string local_dir_;
  std::optional<OwnedDirectory> local_dir_owned_;  // local_dir_, created by this job
  std::optional<CheckpointStorage> storage_;
  std::unique_ptr<CheckpointCoordinator> coordinator_;
  std::unique_ptr<CheckpointScheduler> scheduler_;
  std::optional<RestorePoint> initial_restore_;
  std::unique_ptr<ThreadPool> io_pool_;
  std::unique_ptr<ThreadPool> async_pool_;
  bool exactly_once_ = true;
  bool incremental_ = false;
  bool next_is_full_ = false;  // no-claim: the first checkpoint must not build on the restored one
  uint64_t latest_completed_ = 0;
  std::optional<uint64_t> final_checkpoint_;

  mutable std::mutex mu_;
  JobStatusView status_;  // guarded by mu_
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Task>> tasks_;  // guarded by mu_ for posting; owned by Run()
  std::vector<std::string> task_ids_;
  std::set<std::string> finished_tasks_;
  std::vector<uint64_t> completed_events_;
  std::vector<uint64_t> aborted_events_;
  std::vector<uint64_t> failed_events_;  // declined, or completion failed
  std::optional<Status> failure_;
  bool cancel_ = false;
};

}  // namespace weir
