#include "runtime/job_runtime.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "checkpoint/job_directory.h"
#include "common/clock.h"
#include "common/failpoint.h"
#include "common/log.h"
#include "io/owned_directory.h"
#include "runtime/state_compatibility.h"
#include "state/state_backends.h"

namespace weir {

JobRuntime::~JobRuntime() {
  (void)Teardown();
  if (coordinator_) coordinator_->cleaner().WaitIdle();
  DeleteLocalWorkingDirectory();
}

void JobRuntime::DeleteLocalWorkingDirectory() {
  // The local recovery copies outlive only a crash of the process (that is what they are for).
  if (!local_recovery_dir_.empty()) {
    if (Status s = DeleteLocalDirectory(local_recovery_dir_); !s.ok()) {
      LogWarn("the job's local recovery copies were not deleted: " + s.ToString());
    }
  }
  if (!local_dir_owned_) return;
  if (Status s = local_dir_owned_->DeleteAll(); !s.ok()) {
    LogWarn("the job's working directory was not deleted: " + s.ToString());
  }
}

void JobRuntime::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancel_ = true;
  cv_.notify_all();
}

const char* JobStateName(JobState s) {
  switch (s) {
    case JobState::kCreated:
      return "CREATED";
    case JobState::kRunning:
      return "RUNNING";
    case JobState::kRestarting:
      return "RESTARTING";
    case JobState::kFinished:
      return "FINISHED";
    case JobState::kCancelled:
      return "CANCELED";
    case JobState::kFailed:
      return "FAILED";
  }
  return "?";
}

JobStatusView JobRuntime::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

std::vector<JobException> JobRuntime::exceptions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {exceptions_.begin(), exceptions_.end()};
}

std::optional<CheckpointStatsSnapshot> JobRuntime::checkpoint_stats() const {
  if (!coordinator_) return std::nullopt;
  return coordinator_->stats().Snapshot();
}

std::vector<CheckpointMetadata> JobRuntime::retained_checkpoints() const {
  return coordinator_ ? coordinator_->Retained() : std::vector<CheckpointMetadata>();
}

std::vector<uint64_t> JobRuntime::retained_checkpoint_ids() const {
  return coordinator_ ? coordinator_->RetainedIds() : std::vector<uint64_t>();
}

std::vector<Task::Metrics> JobRuntime::task_metrics() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Task::Metrics> out;
  for (const auto& t : tasks_) out.push_back(t->metrics());
  return out;
}

void JobRuntime::SetState(JobState state, int restarts) {
  std::lock_guard<std::mutex> lock(mu_);
  status_.state = state;
  status_.restarts = restarts;
  if (state == JobState::kRunning && status_.start_unix_ms == 0)
    status_.start_unix_ms = NowUnixMs();
  if (state == JobState::kFinished || state == JobState::kCancelled || state == JobState::kFailed) {
    status_.end_unix_ms = NowUnixMs();
  }
}

JobResult JobRuntime::Run() {
  JobResult result;
  SetState(JobState::kRunning, 0);
  const auto fill_latest = [&] {
    if (!coordinator_) return;
    if (auto latest = coordinator_->Latest()) {
      result.latest_checkpoint = latest->checkpoint_id;
      result.latest_checkpoint_path = storage_->MetadataPath(latest->checkpoint_id);
    }
  };
  LogInfo("job '" + graph_.name + "' (" + job_id_ +
          ") starts: " + std::to_string(plan_.vertices.size()) + " task vertices" +
          (storage_ ? ", checkpoints in " + storage_->job_dir() : ", no checkpoints") +
          (initial_restore_ ? ", resuming from checkpoint " +
                                  std::to_string(initial_restore_->metadata.checkpoint_id)
                            : ""));
  std::optional<RestorePoint> restore = initial_restore_;
  bool recovered = false;
  const bool fixed_delay = config_.Get(config::kRestartStrategy) == RestartStrategy::kFixedDelay;
  const int attempts = static_cast<int>(config_.Get(config::kRestartAttempts));
  while (true) {
    Status failure = Deploy(restore);
    if (!failure.ok() && restore && Unrestorable(failure) &&
        config_.Get(config::kFallbackToOlder)) {
      failure = DeployOlderCheckpoint(&restore, failure);
    }
    // The job directory is created and recovered (which may subsume older checkpoints of a
    // claimed job) only once the tasks restored: a checkpoint that cannot be restored leaves
    // every file where it was.
    if (failure.ok() && coordinator_ && !recovered) {
      failure = RecoverCoordinator(restore);
      recovered = failure.ok();
    }
    // A checkpoint that cannot be restored (damaged, missing files) fails the same way again:
    // restarting would only delay the error. So does a task failing on such an error.
    bool unrestorable = !failure.ok() && Unrestorable(failure);
    JobOutcome outcome = JobOutcome::kFailed;
    if (failure.ok()) {
      outcome = Supervise(&failure);
      unrestorable = outcome == JobOutcome::kFailed && Unrestorable(failure);
    }
    // A task that fails while it finishes (the final checkpoint's notification: a sink that
    // cannot publish what it committed) fails a job that was about to finish.
    if (std::optional<Status> late = Teardown(); late && outcome == JobOutcome::kFinished) {
      LogWarn("the job's final step failed: " + late->ToString());
      outcome = JobOutcome::kFailed;
      failure = *late;
      unrestorable = Unrestorable(failure);
    }
    std::string failed_task;
    {
      std::lock_guard<std::mutex> lock(mu_);
      failed_task = std::exchange(failed_task_, "");
    }
    FailOpenRequests(outcome == JobOutcome::kFailed      ? "the job failed: " + failure.ToString()
                     : outcome == JobOutcome::kCancelled ? "the job was cancelled"
                                                         : "the job finished");
    if (outcome == JobOutcome::kFinished) {
      result.outcome = outcome;
      break;
    }
    if (outcome == JobOutcome::kCancelled) {
      result.outcome = outcome;
      if (storage_ &&
          config_.Get(config::kRetention) == CheckpointRetention::kDeleteOnCancellation) {
        coordinator_->cleaner().WaitIdle();
        if (Status deleted = DeleteJobDirectory(*storage_); deleted.ok()) {
          LogInfo("job cancelled; its checkpoints were deleted (DELETE_ON_CANCELLATION)");
        } else {
          LogWarn("job cancelled; its checkpoints were not all deleted: " + deleted.ToString());
        }
        DeleteLocalWorkingDirectory();
        {
          std::lock_guard<std::mutex> lock(mu_);
          // Elsewhere: a savepoint is never deleted with the job directory.
          result.savepoint_path = stopped_with_;
          result.stop_request = stopped_by_;
        }
        SetState(JobState::kCancelled, result.restarts);
        return result;
      }
      break;
    }
    LogError("job failed: " + failure.ToString());
    {
      std::lock_guard<std::mutex> lock(mu_);
      exceptions_.push_front({NowUnixMs(), failed_task, failure.ToString()});
      if (exceptions_.size() > kExceptionHistory) exceptions_.pop_back();
    }
    if (!fixed_delay || result.restarts >= attempts || unrestorable) {
      result.outcome = JobOutcome::kFailed;
      result.status = failure;
      break;
    }
    ++result.restarts;
    SetState(JobState::kRestarting, result.restarts);
    const int64_t delay = config_.Get(config::kRestartDelay).count();
    LogWarn("restarting in " + std::to_string(delay) + " ms (restart " +
            std::to_string(result.restarts) + " of " + std::to_string(attempts) + ")");
    if (!WaitForRestart(delay)) {
      result.outcome = JobOutcome::kCancelled;
      break;
    }
    restore = initial_restore_;
    if (coordinator_) {
      if (auto latest = coordinator_->Latest()) {
        restore = RestorePoint{*storage_, *latest, true};
      }
    }
    scheduler_->Reset(NowSteadyMs());
    SetState(JobState::kRunning, result.restarts);
  }
  fill_latest();
  {
    std::lock_guard<std::mutex> lock(mu_);
    result.savepoint_path = stopped_with_;
    result.stop_request = stopped_by_;
  }
  SetState(result.outcome == JobOutcome::kFinished    ? JobState::kFinished
           : result.outcome == JobOutcome::kCancelled ? JobState::kCancelled
                                                      : JobState::kFailed,
           result.restarts);
  // The subtasks' working directories are local whatever the checkpoint storage is.
  DeleteLocalWorkingDirectory();
  return result;
}

bool JobRuntime::Unrestorable(const Status& s) {
  // What a restart would meet again: damaged or missing files, input or state that does not fit
  // the job (a changed max parallelism, a serializer mismatch, a pending part that is gone).
  switch (s.code()) {
    case StatusCode::kCorruption:
    case StatusCode::kNotFound:
    case StatusCode::kInvalidArgument:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kNotSupported:
      return true;
    default:
      return false;
  }
}

Status JobRuntime::DeployOlderCheckpoint(std::optional<RestorePoint>* restore, Status damaged) {
  const RestorePoint& failed = **restore;
  const uint64_t failed_id = failed.metadata.checkpoint_id;
  if (failed.storage.is_savepoint()) return damaged;  // a savepoint has no older checkpoints
  WEIR_ASSIGN_OR_RETURN(std::vector<uint64_t> ids, failed.storage.ListCompletedCheckpointIds());
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    if (*it >= failed_id) continue;
    const std::string path = failed.storage.MetadataPath(*it);
    auto metadata = ReadCheckpointMetadata(failed.storage.fs(), path);
    if (!metadata.ok()) {
      LogWarn("fallback: checkpoint " + std::to_string(*it) +
              " is unreadable too: " + metadata.status().ToString());
      continue;
    }
    if (!CheckRestoreCompatibility(plan_, graph_.name, *metadata, path,
                                   config_.Get(config::kAllowNonRestoredState))
             .ok() ||
        !CheckStateCompatibility(graph_, plan_, config_, job_id_, *metadata, path).ok()) {
      continue;
    }
    LogWarn("checkpoint " + std::to_string(failed_id) + " cannot be restored (" +
            damaged.message() + "); falling back to checkpoint " + std::to_string(*it) + " (" +
            std::string(config::kFallbackToOlder) + ")");
    RestorePoint candidate{failed.storage, std::move(metadata).value(), failed.owned};
    Status s = Deploy(candidate);
    if (s.ok()) {
      *restore = std::move(candidate);
      return s;
    }
    if (!Unrestorable(s)) return s;
    damaged = s;
  }
  LogError("no intact checkpoint older than " + std::to_string(failed_id) + " to fall back to");
  return damaged;
}

Status JobRuntime::RecoverCoordinator(const std::optional<RestorePoint>& restored) {
  // Checkpoints of this directory newer than the one restored failed to restore (the fallback
  // went past them): they are never registered, so retention cannot subsume the intact one.
  std::optional<uint64_t> newest;
  if (restored && restored->owned) newest = restored->metadata.checkpoint_id;
  WEIR_ASSIGN_OR_RETURN(RecoveredStore recovered, coordinator_->Recover(newest));
  for (const auto& s : recovered.unreadable) {
    LogWarn("skipped an unreadable checkpoint: " + s.ToString());
  }
  for (uint64_t id : recovered.skipped_newer) {
    LogWarn("checkpoint " + std::to_string(id) +
            " failed to restore: it is kept as it is but not retained (the job builds on "
            "checkpoint " +
            std::to_string(*newest) + ")");
  }
  if (auto latest = coordinator_->Latest()) latest_completed_ = latest->checkpoint_id;
  return Status::OK();
}

bool JobRuntime::WaitForRestart(int64_t delay_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(delay_ms), [&] { return cancel_; });
  return !cancel_;
}

Status JobRuntime::Deploy(const std::optional<RestorePoint>& restore) {
  const int64_t deploy_start = NowSteadyMs();
  if (restore) {
    LogInfo("restoring from checkpoint " + std::to_string(restore->metadata.checkpoint_id) +
            " in " + restore->storage.job_dir());
  }
  // Every inbox first: a task's writers need the inboxes of its consumers.
  std::vector<std::vector<std::unique_ptr<TaskInbox>>> owned(plan_.vertices.size());
  std::vector<std::vector<TaskInbox*>> inboxes(plan_.vertices.size());
  const auto capacity = static_cast<size_t>(config_.Get(config::kChannelCapacity));
  for (size_t v = 0; v < plan_.vertices.size(); ++v) {
    const auto& vertex = plan_.vertices[v];
    const int channels = ChannelsOf(vertex.input_vertex) + ChannelsOf(vertex.input_vertex2);
    for (int s = 0; s < vertex.parallelism; ++s) {
      owned[v].push_back(std::make_unique<TaskInbox>(channels, capacity));
      inboxes[v].push_back(owned[v].back().get());
    }
  }
  // Which state each subtask restores, whatever parallelism its operator ran with.
  RestoreAssignment assignment;
  if (restore) {
    WEIR_ASSIGN_OR_RETURN(
        assignment,
        AssignRestoredState(plan_, restore->metadata,
                            restore->storage.MetadataPath(restore->metadata.checkpoint_id)));
  }
  WEIR_ASSIGN_OR_RETURN(auto backends, CreateBackends(restore, assignment));
  std::vector<std::unique_ptr<Task>> tasks;
  std::vector<std::string> ids;
  for (size_t v = 0; v < plan_.vertices.size(); ++v) {
    for (int s = 0; s < plan_.vertices[v].parallelism; ++s) {
      const auto i = static_cast<size_t>(s);
      auto task = BuildTask(static_cast<int>(v), s, assignment, inboxes, std::move(owned[v][i]),
                            std::move(backends[v][i]));
      if (!task.ok()) return task.status();  // built tasks are destroyed unstarted
      ids.push_back((*task)->task_id());
      tasks.push_back(std::move(task).value());
    }
  }
  if (restore) {
    // Building the tasks restored every backend: that is the restore's duration.
    const int64_t restore_ms = NowSteadyMs() - deploy_start;
    LogInfo("job " + job_id_ + " restored checkpoint " +
            std::to_string(restore->metadata.checkpoint_id) + " in " + std::to_string(restore_ms) +
            " ms");
    if (coordinator_) {
      coordinator_->stats().ReportRestored(
          {restore->metadata.checkpoint_id,
           restore->storage.MetadataPath(restore->metadata.checkpoint_id), NowUnixMs(), restore_ms,
           IsSavepoint(restore->metadata.kind)});
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_ = std::move(tasks);
    task_ids_ = std::move(ids);
    finished_tasks_.clear();
    final_checkpoint_.reset();
    for (auto& t : tasks_) t->Start();
  }
  return Status::OK();
}

Result<std::unique_ptr<CheckpointableKeyedStateBackend>> JobRuntime::CreateBackend(
    int vertex_index, int subtask, const std::optional<RestorePoint>& restore,
    const RestoreAssignment& assignment) {
  const TaskVertex& vertex = plan_.vertices[static_cast<size_t>(vertex_index)];
  const std::string& uid = plan_.uids[static_cast<size_t>(vertex.operators.front())];
  KeyedStateBackendParameters parameters;
  parameters.backend_id = ExecutionPlan::BackendId(uid, subtask);
  parameters.slot = subtask;
  parameters.local_dir = JoinPath(local_dir_, parameters.backend_id);
  if (!local_recovery_dir_.empty()) {
    parameters.local_recovery_dir = JoinPath(local_recovery_dir_, parameters.backend_id);
  }
  parameters.max_parallelism = plan_.max_parallelism;
  parameters.key_group_range =
      KeyGroupRange::ForSubtask(plan_.max_parallelism, vertex.parallelism, subtask);
  parameters.config = &config_;
  parameters.checkpoint_storage = storage_ ? &*storage_ : nullptr;
  parameters.io_pool = io_pool_.get();
  parameters.changelog_writer = changelog_writer_;
  // Every handle sharing key groups with this subtask's range: one at an unchanged
  // parallelism, several after a rescale.
  std::optional<KeyedStateRestore> from;
  if (restore) {
    auto handles = assignment.KeyedHandles(uid, parameters.key_group_range);
    if (!handles.empty()) {
      from.emplace(KeyedStateRestore{&restore->storage, restore->metadata.checkpoint_id,
                                     std::move(handles), restore->owned});
    }
  }
  return CreateKeyedStateBackend(config_.Get(config::kBackendType), parameters,
                                 from ? &*from : nullptr);
}

Result<std::vector<std::vector<std::unique_ptr<CheckpointableKeyedStateBackend>>>>
JobRuntime::CreateBackends(const std::optional<RestorePoint>& restore,
                           const RestoreAssignment& assignment) {
  std::vector<std::pair<int, int>> keyed;  // vertex, subtask
  std::vector<std::vector<std::unique_ptr<CheckpointableKeyedStateBackend>>> backends;
  for (size_t v = 0; v < plan_.vertices.size(); ++v) {
    const int parallelism = plan_.vertices[v].parallelism;
    backends.emplace_back(static_cast<size_t>(parallelism));
    if (!plan_.vertices[v].keyed()) continue;
    for (int s = 0; s < parallelism; ++s) keyed.emplace_back(static_cast<int>(v), s);
  }
  std::vector<Status> results(keyed.size());
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};  // once one fails, no other starts: the deploy fails anyway
  const auto work = [&] {
    for (size_t i = next++; i < keyed.size() && !failed; i = next++) {
      const auto [v, s] = keyed[i];
      auto backend = CreateBackend(v, s, restore, assignment);
      if (backend.ok()) {
        backends[static_cast<size_t>(v)][static_cast<size_t>(s)] = std::move(backend).value();
      } else {
        results[i] = backend.status();
        failed = true;
      }
    }
  };
  // One thread per core at most: a restore is CPU-bound once its files are local (replaying a
  // changelog, opening RocksDB), and its downloads use the io pool's threads anyway.
  const size_t threads =
      std::min<size_t>(keyed.size(), std::max<unsigned>(1, std::thread::hardware_concurrency()));
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < threads; ++t) helpers.emplace_back(work);
  work();
  for (auto& h : helpers) h.join();
  // The first failure in task order; the backends created are closed.
  for (const Status& s : results) WEIR_RETURN_IF_ERROR(s);
  return backends;
}

Result<std::unique_ptr<Task>> JobRuntime::BuildTask(
    int vertex_index, int subtask, const RestoreAssignment& assignment,
    std::vector<std::vector<TaskInbox*>>& inboxes, std::unique_ptr<TaskInbox> own_inbox,
    std::unique_ptr<CheckpointableKeyedStateBackend> backend) {
  const TaskVertex& vertex = plan_.vertices[static_cast<size_t>(vertex_index)];
  TaskSetup setup;
  setup.job_id = job_id_;
  setup.task_id = plan_.TaskId(vertex_index, subtask);
  setup.subtask = subtask;
  setup.parallelism = vertex.parallelism;
  setup.exactly_once = exactly_once_;
  setup.checkpointing_enabled = scheduler_->periodic() && coordinator_ != nullptr;
  setup.config = &config_;
  setup.inbox = std::move(own_inbox);
  setup.listener = this;
  setup.async_pool = async_pool_.get();
  setup.first_input_channels = ChannelsOf(vertex.input_vertex);
  for (int c : vertex.consumers) {
    const TaskVertex& consumer = plan_.vertices[static_cast<size_t>(c)];
    // This vertex feeds the consumer's second input: its channels follow the first input's.
    const bool second = consumer.input_vertex2 == vertex_index;
    const int offset = second ? ChannelsOf(consumer.input_vertex) : 0;
    std::vector<RecordWriter::Target> targets;
    for (TaskInbox* inbox : inboxes[static_cast<size_t>(c)]) {
      targets.push_back({inbox, offset + subtask});
    }
    const OperatorSpec& head = graph_.operators[static_cast<size_t>(consumer.operators.front())];
    setup.writers.push_back(std::make_unique<RecordWriter>(
        std::move(targets), second ? consumer.input_partitioning2 : consumer.input_partitioning,
        second ? head.key_of2 : head.key_of, plan_.max_parallelism, 64));
    setup.writer_tags.push_back(head.side_output);
  }
  for (int index : vertex.operators) {
    const OperatorSpec& spec = graph_.operators[static_cast<size_t>(index)];
    TaskOperator op;
    op.uid = plan_.uids[static_cast<size_t>(index)];
    op.name = spec.name;
    if (spec.is_source())
      op.source = spec.new_source();
    else
      op.op = spec.new_operator();
    if (const RestoredOperatorState* restored = assignment.OperatorState(op.uid, subtask)) {
      op.restored = true;
      op.restored_state = *restored;
    }
    setup.chain.push_back(std::move(op));
  }
  if (vertex.keyed()) {
    setup.backend = std::move(backend);
    setup.backend_snapshots = storage_.has_value();
  }
  return std::make_unique<Task>(std::move(setup));
}

JobOutcome JobRuntime::Supervise(Status* failure) {
  while (true) {
    const int64_t now = NowSteadyMs();
    int64_t wake = now + 200;
    if (auto next = scheduler_->NextTriggerTime()) wake = std::min(wake, *next);
    std::vector<uint64_t> completed, aborted, failed;
    bool all_finished = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(1, wake - now)), [&] {
        return cancel_ || failure_.has_value() || !completed_events_.empty() ||
               !aborted_events_.empty() || !failed_events_.empty() || !queued_.empty() ||
               (finished_tasks_.size() == tasks_.size() && !final_checkpoint_.has_value());
      });
      if (cancel_) return JobOutcome::kCancelled;
      if (failure_.has_value()) {
        *failure = *failure_;
        return JobOutcome::kFailed;
      }
      completed.swap(completed_events_);
      aborted.swap(aborted_events_);
      failed.swap(failed_events_);
      all_finished = finished_tasks_.size() == tasks_.size();
    }
    const int64_t t = NowSteadyMs();
    bool done = false;
    for (uint64_t id : completed) {
      if (final_checkpoint_.has_value() && id >= *final_checkpoint_) done = true;
      // A savepoint is no part of the job's history: no base, no subsumption.
      if (const auto stats = coordinator_->stats().Find(id); stats && IsSavepoint(stats->kind)) {
        continue;
      }
      scheduler_->OnCompleted(id, t);
      latest_completed_ = std::max(latest_completed_, id);
      next_is_full_ = false;
    }
    // Snapshots a request started count against no tolerance: the request reports the failure.
    for (uint64_t id : failed) {
      if (!IsRequested(id)) scheduler_->OnFailed(id);
    }
    for (uint64_t id : aborted) {
      scheduler_->OnAborted(id, t);
      if (final_checkpoint_ == id) final_checkpoint_.reset();
    }
    if (auto stopped = HandleControl(t, all_finished, completed, aborted)) return *stopped;
    if (scheduler_->FailuresExceedTolerance()) {
      *failure = Status::Aborted(std::to_string(scheduler_->consecutive_failures()) +
                                 " consecutive checkpoint failures exceed " +
                                 std::string(config::kTolerableFailures) + " (" +
                                 std::to_string(config_.Get(config::kTolerableFailures)) + ")");
      return JobOutcome::kFailed;
    }
    if (done) {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& task : tasks_) task->inbox().Post({Mail::Kind::kStop, 0});
      return JobOutcome::kFinished;
    }
    for (uint64_t id : scheduler_->Expired(t)) {
      LogWarn("checkpoint " + std::to_string(id) + " expired before it completed");
      scheduler_->OnFailed(id);
      coordinator_->Abort(id, "expired");
    }
    if (all_finished) {
      if (!coordinator_) {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto& task : tasks_) task->inbox().Post({Mail::Kind::kStop, 0});
        return JobOutcome::kFinished;
      }
      if (!final_checkpoint_.has_value()) Trigger(t, /*final=*/true);
    } else if (coordinator_ && scheduler_->ShouldTrigger(t) && !StopSnapshotPending()) {
      Trigger(t, /*final=*/false);
    }
  }
}

void JobRuntime::Trigger(int64_t now_ms, bool final) {
  if (Status s = Failpoints::Instance().Hit("coordinator.trigger"); !s.ok()) {
    LogWarn("checkpoint trigger skipped: " + s.ToString());
    return;
  }
  // The final snapshot of a job stopping after a drain is its savepoint.
  CheckpointOptions options;
  std::string request;
  if (final) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_for_ && requests_.at(*stopping_for_).savepoint_request.then ==
                             SavepointRequest::Then::kStopAndDrain) {
      request = *stopping_for_;
    }
  }
  if (!request.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    options = SavepointOptionsFor(requests_.at(request));
  }
  auto id = StartSnapshot(std::move(options), request);
  if (!id) return;
  scheduler_->OnTriggered(*id, now_ms);
  if (final) final_checkpoint_ = *id;
}

bool JobRuntime::StopSnapshotPending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_snapshot_.has_value();
}

std::optional<Status> JobRuntime::Teardown() {
  std::vector<std::unique_ptr<Task>> tasks;
  std::optional<Status> late;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& task : tasks_) task->inbox().Close();
  }
  // Threads end on their own (after their mail, on a closed inbox); join outside the lock.
  for (auto& task : tasks_) task->Join();
  if (coordinator_) coordinator_->AbortAll("the job's tasks stopped");
  // Async parts still running refer to the tasks' backends: let them finish (their late
  // acknowledgements are refused and their uploads deleted) before the tasks go.
  if (async_pool_) async_pool_->WaitIdle();
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks.swap(tasks_);
    task_ids_.clear();
    completed_events_.clear();
    aborted_events_.clear();
    failed_events_.clear();
    late = std::exchange(failure_, std::nullopt);
  }
  tasks.clear();
  return late;
}

void JobRuntime::NotifyCheckpointComplete(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  // An intermediate savepoint commits nothing: the job may roll back to a checkpoint before it.
  if (intermediate_savepoints_.count(id) == 0) {
    for (auto& task : tasks_) task->inbox().Post({Mail::Kind::kCheckpointComplete, id});
  }
  completed_events_.push_back(id);
  cv_.notify_all();
}

void JobRuntime::NotifyCheckpointAborted(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& task : tasks_) task->inbox().Post({Mail::Kind::kCheckpointAborted, id});
  aborted_events_.push_back(id);
  cv_.notify_all();
}

void JobRuntime::OnTaskFinished(const std::string& task_id) {
  std::lock_guard<std::mutex> lock(mu_);
  finished_tasks_.insert(task_id);
  cv_.notify_all();
}

Status JobRuntime::SetCompletionFence(CheckpointCoordinator::CompletionFence fence) {
  if (!coordinator_) {
    return Status::FailedPrecondition("the job takes no checkpoints: no completion to fence");
  }
  coordinator_->SetCompletionFence(std::move(fence));
  return Status::OK();
}

void JobRuntime::OnTaskFailed(const std::string& task_id, const Status& status) {
  std::lock_guard<std::mutex> lock(mu_);
  // The code stays the task's own: whether a restart can help depends on it (Unrestorable).
  if (!failure_.has_value()) {
    failure_ = status.WithContext("task " + task_id);
    failed_task_ = task_id;
  }
  cv_.notify_all();
}

std::vector<CheckpointStats> JobRuntime::completed_checkpoints() const {
  std::vector<CheckpointStats> completed;
  if (!coordinator_) return completed;
  const CheckpointStatsSnapshot stats = coordinator_->stats().Snapshot();
  for (auto it = stats.history.rbegin(); it != stats.history.rend(); ++it) {
    if (it->status == CheckpointStatus::kCompleted) completed.push_back(*it);
  }
  return completed;
}

void JobRuntime::AcknowledgeCheckpoint(uint64_t id, TaskStateSnapshot snapshot) {
  // The outcome arrives on this (async part's) thread, or on the coordinator's I/O thread once
  // the checkpoint's completion settled (its _metadata written): nothing here waits for it.
  coordinator_->Acknowledge(
      id, std::move(snapshot), NowUnixMs(), [this, id](CheckpointCoordinator::AckResult done) {
        if (!done.ok()) {
          if (done.status().code() == StatusCode::kFailedPrecondition) {
            // Fenced: this process no longer owns what the job checkpoints. No restart can
            // help; the job fails at once (Unrestorable).
            OnTaskFailed("checkpoint " + std::to_string(id), done.status());
            return;
          }
          if (done.status().code() != StatusCode::kAborted) {
            LogWarn("checkpoint " + std::to_string(id) + " failed: " + done.status().ToString());
            ReportFailed(id);
          } else {
            // Ended already, or aborted now because it reuses a file retention already
            // released: no failure of the storage, so not counted against the tolerable ones.
            LogInfo("checkpoint " + std::to_string(id) + " aborted: " + done.status().message());
          }
          return;
        }
        if (!done->has_value()) return;
        const CheckpointMetadata& m = **done;
        LogInfo("checkpoint " + std::to_string(id) + " complete (" + CheckpointKindName(m.kind) +
                ", " + std::to_string(m.CheckpointedBytes()) + " of " +
                std::to_string(m.FullBytes()) + " bytes written, " +
                std::to_string(m.completed_unix_ms - m.trigger_unix_ms) + " ms)");
      });
}

void JobRuntime::DeclineCheckpoint(uint64_t id, const std::string& task_id, const Status& reason) {
  // A checkpoint that was already aborted (expired, subsumed by a newer one, or the job failing
  // over) often fails in its task because the abort deleted its directory: that is no new
  // failure, and counting it could fail a job that tolerates none.
  if (coordinator_ && !coordinator_->Abort(id, reason.ToString())) {
    LogInfo("checkpoint " + std::to_string(id) + " had already ended when task " + task_id +
            " gave it up: " + reason.ToString());
    return;
  }
  LogWarn("checkpoint " + std::to_string(id) + " declined by task " + task_id + ": " +
          reason.ToString());
  ReportFailed(id);
}

void JobRuntime::ReportFailed(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  failed_events_.push_back(id);
  cv_.notify_all();
}

}  // namespace weir
