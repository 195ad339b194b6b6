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
#include <deque>
#include <list>
#include <map>
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

class ChangelogWriter;

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

// A failure of the job (each one restarted it or ended it), for Flink's exception history.
struct JobException {
  int64_t unix_ms = 0;
  std::string task_id;  // the task that failed first; empty: the job itself (deploy, checkpoints)
  std::string message;
};

struct JobResult {
  JobOutcome outcome = JobOutcome::kFailed;
  Status status;  // why it failed
  std::optional<uint64_t> latest_checkpoint;
  std::string latest_checkpoint_path;  // its _metadata
  std::string savepoint_path;          // the directory of the savepoint the job stopped with
  std::string stop_request;            // the request that stopped it
  int restarts = 0;
};

// Job control (the REST API and the CLI act through it; docs/savepoints.md).
struct SavepointRequest {
  std::string target_directory;  // the savepoint goes to a new directory in it; empty:
                                 // state.savepoints.dir
  SavepointFormat format = SavepointFormat::kCanonical;
  // What the job does after it: go on; stop (sources stop, the savepoint is every operator's
  // last snapshot, sinks commit, the job finishes); stop after draining (sources end their input
  // first, so operators finish); or be cancelled.
  enum class Then : uint8_t { kContinue, kStop, kStopAndDrain, kCancel };
  Then then = Then::kContinue;
};
// A manual checkpoint: CONFIGURED takes the job's kind; FULL references no earlier file, also
// in an incremental job (the checkpoints after it build on it); INCREMENTAL builds on the latest.
enum class CheckpointRequestType : uint8_t { kConfigured, kFull, kIncremental };
struct ControlRequestStatus {
  enum class State : uint8_t { kInProgress, kCompleted, kFailed };
  State state = State::kInProgress;
  bool savepoint = false;
  std::optional<uint64_t> checkpoint_id;  // once triggered
  std::string location;  // completed: a savepoint's directory, a checkpoint's _metadata
  std::string failure;   // failed: why
};

class JobRuntime final : public CheckpointListener, public TaskListener {
 public:
  // `config` may set execution.savepoint.path (the checkpoint to resume from) and
  // execution.savepoint-restore-mode.
  // `local_recovery_scope` names the directory of the local recovery copies
  // (state.backend.local-recovery) when it must outlive the run (a worker's shard: the process
  // restarted finds it); empty: the job's id.
  static Result<std::unique_ptr<JobRuntime>> Create(JobGraph graph, const Configuration& config,
                                                    std::shared_ptr<FileSystem> fs = nullptr,
                                                    const std::string& local_recovery_scope = "");
  ~JobRuntime() override;

  JobResult Run();
  void Cancel();
  // Every checkpoint and savepoint must pass `fence` to complete (CheckpointCoordinator::
  // SetCompletionFence); a refusal fails the job at once, without a restart. Before Run; a job
  // without checkpoint storage has nothing to fence (FailedPrecondition).
  Status SetCompletionFence(CheckpointCoordinator::CompletionFence fence);

  // Job control, from any thread. Each returns the request's id (32 hex digits) once the
  // request is accepted; the supervising thread carries it out. Refused at once (nothing
  // started) with FailedPrecondition when the job is not running, takes no checkpoints, or
  // is already stopping, and with InvalidArgument for a target that cannot be used.
  Result<std::string> TriggerSavepoint(SavepointRequest request);
  Result<std::string> TriggerCheckpoint(CheckpointRequestType type);
  // Nullopt for an unknown request id. Thread-safe.
  std::optional<ControlRequestStatus> RequestStatus(const std::string& request_id) const;

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
  // The job's failures, newest first (at most kExceptionHistory: Flink's default
  // web.exception-history-size). Thread-safe.
  static constexpr size_t kExceptionHistory = 16;
  std::vector<JobException> exceptions() const;
  // The retained completed checkpoints (empty without checkpointing) and their storage.
  // Thread-safe.
  std::vector<CheckpointMetadata> retained_checkpoints() const;
  // Just their ids (no metadata copied).
  std::vector<uint64_t> retained_checkpoint_ids() const;
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
  // The input channels a vertex's subtask gets from `input_vertex` (its parallelism; 0 for -1).
  int ChannelsOf(int input_vertex) const {
    return input_vertex < 0 ? 0 : plan_.vertices[static_cast<size_t>(input_vertex)].parallelism;
  }
  // Opens, or restores, the keyed state backend of `vertex`'s `subtask`.
  Result<std::unique_ptr<CheckpointableKeyedStateBackend>> CreateBackend(
      int vertex, int subtask, const std::optional<RestorePoint>& restore,
      const RestoreAssignment& assignment);
  // Every keyed subtask's backend, by vertex and subtask (null for an unkeyed vertex), created
  // concurrently: restoring the backends is most of a recovery, and each is independent.
  Result<std::vector<std::vector<std::unique_ptr<CheckpointableKeyedStateBackend>>>> CreateBackends(
      const std::optional<RestorePoint>& restore, const RestoreAssignment& assignment);
  // `backend`: the subtask's keyed state backend (null for an unkeyed vertex).
  Result<std::unique_ptr<Task>> BuildTask(int vertex, int subtask,
                                          const RestoreAssignment& assignment,
                                          std::vector<std::vector<TaskInbox*>>& inboxes,
                                          std::unique_ptr<TaskInbox> own_inbox,
                                          std::unique_ptr<CheckpointableKeyedStateBackend> backend);
  // Where a request's savepoint directories go: a new one per attempt.
  struct SavepointParent {
    std::shared_ptr<FileSystem> fs;
    std::string dir;  // normalized
  };
  // A control request and how it went.
  struct ControlRequest {
    bool savepoint = false;
    SavepointRequest savepoint_request;
    SavepointParent parent;
    CheckpointRequestType checkpoint_type = CheckpointRequestType::kConfigured;
    ControlRequestStatus status;
    int64_t triggered_steady_ms = 0;
    std::shared_ptr<const CheckpointOptions> attempt;  // the latest snapshot started for it
  };
  JobOutcome Supervise(Status* failure);
  // Periodic and final checkpoints (the final one a savepoint when a drain asked for it).
  void Trigger(int64_t now_ms, bool final);
  // Starts snapshot `options` for `request` (empty: a periodic or final checkpoint).
  std::optional<uint64_t> StartSnapshot(CheckpointOptions options, const std::string& request);
  // On the supervising thread: triggers queued requests, expires manual ones past the timeout,
  // and settles those whose snapshot ended. Returns an outcome when the job ends by a stop.
  std::optional<JobOutcome> HandleControl(int64_t now_ms, bool all_finished,
                                          const std::vector<uint64_t>& completed,
                                          const std::vector<uint64_t>& aborted);
  void FailRequestLocked(const std::string& request, const std::string& why);
  // Every request still in progress failed (the job's tasks stopped otherwise).
  void FailOpenRequests(const std::string& why);
  Status AcceptsControlLocked() const;
  std::string AddRequestLocked(ControlRequest request);
  Result<SavepointParent> SavepointParentOf(const std::string& dir) const;
  // A savepoint attempt of `request`, in a new directory of its own.
  CheckpointOptions SavepointOptionsFor(const ControlRequest& request) const;
  // Whether checkpoint N was started by a request (so the periodic scheduler does not count it).
  bool IsRequested(uint64_t checkpoint_id) const;
  bool StopSnapshotPending() const;
  // Stops and joins the tasks; a failure a task reported meanwhile (while finishing).
  std::optional<Status> Teardown();
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
  std::string local_recovery_dir_;                 // state.backend.local-recovery; empty: off
  std::optional<CheckpointStorage> storage_;
  std::unique_ptr<CheckpointCoordinator> coordinator_;
  std::unique_ptr<CheckpointScheduler> scheduler_;
  std::optional<RestorePoint> initial_restore_;
  std::unique_ptr<ThreadPool> io_pool_;
  std::unique_ptr<ThreadPool> async_pool_;
  bool fs_given_ = false;  // the caller's file system serves savepoints too
  bool exactly_once_ = true;
  bool incremental_ = false;
  // The process's state-change log when changelog checkpoints are on (state.backend.changelog.
  // enabled with checkpoint storage); the backends hold it too.
  std::shared_ptr<ChangelogWriter> changelog_writer_;
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
  std::string failed_task_;              // guarded by mu_: the task of failure_
  std::deque<JobException> exceptions_;  // guarded by mu_: newest first
  bool cancel_ = false;
  // Job control, guarded by mu_: requests by id, those not yet triggered, the request of each
  // manual snapshot, intermediate savepoints (whose completion tasks are not told: a savepoint
  // commits no output unless the job stops with it, Flink's rule since 1.15), and the request
  // the job is stopping for.
  std::map<std::string, ControlRequest> requests_;
  std::list<std::string> request_order_;  // oldest first
  std::vector<std::string> queued_;
  std::map<uint64_t, std::string> request_of_;
  std::set<uint64_t> requested_;  // every snapshot a request started (not the drain's final one)
  std::set<uint64_t> intermediate_savepoints_;
  std::optional<std::string> stopping_for_;
  std::optional<uint64_t> stop_snapshot_;  // the terminating savepoint under way
  std::string stopped_with_;               // the savepoint the job stopped with
  std::string stopped_by_;                 // and the request
};

}  // namespace weir
