// JobRuntime's job control: savepoints, stop-with-savepoint, manual checkpoints (job_runtime.h).
// Requests are accepted on the caller's thread and carried out by the supervising thread, which
// alone triggers snapshots and ends the job.
#include <filesystem>
#include <random>

#include "common/clock.h"
#include "common/log.h"
#include "io/file_systems.h"
#include "runtime/job_runtime.h"

namespace weir {
namespace {

std::string RandomHex(size_t n) {
  thread_local std::mt19937_64 rng{std::random_device{}() ^ static_cast<uint64_t>(NowSteadyMs())};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(n, '0');
  for (char& c : s) c = kHex[rng() % 16];
  return s;
}

// Settled requests kept for status queries.
constexpr size_t kSettledRequestsKept = 1000;

// A local path as the file system sees it (relative spellings, `..` and links resolved), so that
// two spellings of one directory compare equal; object store paths as they are.
std::string Resolved(const std::string& path) {
  if (path.find("://") != std::string::npos) return path;
  std::error_code ec;
  const std::filesystem::path resolved = std::filesystem::weakly_canonical(path, ec);
  return ec ? path : resolved.string();
}

}  // namespace

Result<JobRuntime::SavepointParent> JobRuntime::SavepointParentOf(const std::string& dir) const {
  std::string parent = dir.empty() ? config_.Get(config::kSavepointsDir) : dir;
  if (parent.empty()) {
    return Status::InvalidArgument("no target directory for the savepoint: give one or set " +
                                   std::string(config::kSavepointsDir));
  }
  WEIR_ASSIGN_OR_RETURN(parent, NormalizeStoragePath(parent));
  while (parent.size() > 1 && parent.back() == '/') parent.pop_back();
  // A savepoint in the job directory would be taken for an orphan by gc and deleted with a
  // cancelled job's directory: weir never deletes a savepoint, so it never writes one there.
  const std::string job_dir = Resolved(storage_->job_dir());
  const std::string resolved = Resolved(parent);
  if (resolved == job_dir || resolved.starts_with(job_dir + "/")) {
    return Status::InvalidArgument("savepoint target " + parent +
                                   " is inside the job's checkpoint directory " + job_dir +
                                   ": savepoints are the user's and go elsewhere");
  }
  std::shared_ptr<FileSystem> fs = fs_;
  if (!fs_given_) {
    WEIR_ASSIGN_OR_RETURN(fs, FileSystemForPath(parent, config_));
  }
  return SavepointParent{std::move(fs), std::move(parent)};
}

Status JobRuntime::AcceptsControlLocked() const {
  if (!coordinator_) {
    return Status::FailedPrecondition(
        "the job takes no checkpoints: savepoints and manual checkpoints need " +
        std::string(config::kCheckpointsDir) + " and " + std::string(config::kInterval));
  }
  if (cancel_ || status_.state != JobState::kRunning) {
    return Status::FailedPrecondition(std::string("the job is ") + JobStateName(status_.state) +
                                      (cancel_ ? " (being cancelled)" : ""));
  }
  if (stopping_for_) {
    return Status::FailedPrecondition("the job is stopping (request " + *stopping_for_ + ")");
  }
  return Status::OK();
}

std::string JobRuntime::AddRequestLocked(ControlRequest request) {
  std::string id = RandomHex(32);
  while (requests_.count(id) != 0) id = RandomHex(32);
  requests_.emplace(id, std::move(request));
  request_order_.push_back(id);
  queued_.push_back(id);
  // Settled requests beyond the bound go, oldest first; those in progress stay.
  for (auto it = request_order_.begin();
       requests_.size() > kSettledRequestsKept && it != request_order_.end();) {
    auto r = requests_.find(*it);
    if (r != requests_.end() &&
        r->second.status.state == ControlRequestStatus::State::kInProgress) {
      ++it;
      continue;
    }
    if (r != requests_.end()) requests_.erase(r);
    it = request_order_.erase(it);
  }
  cv_.notify_all();
  return id;
}

Result<std::string> JobRuntime::TriggerSavepoint(SavepointRequest request) {
  if (!coordinator_) {
    std::lock_guard<std::mutex> lock(mu_);
    WEIR_RETURN_IF_ERROR(AcceptsControlLocked());
  }
  WEIR_ASSIGN_OR_RETURN(SavepointParent parent, SavepointParentOf(request.target_directory));
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_RETURN_IF_ERROR(AcceptsControlLocked());
  ControlRequest r;
  r.savepoint = true;
  r.savepoint_request = std::move(request);
  r.parent = std::move(parent);
  r.status.savepoint = true;
  const bool stops = r.savepoint_request.then != SavepointRequest::Then::kContinue;
  const std::string id = AddRequestLocked(std::move(r));
  if (stops) stopping_for_ = id;
  return id;
}

Result<std::string> JobRuntime::TriggerCheckpoint(CheckpointRequestType type) {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_RETURN_IF_ERROR(AcceptsControlLocked());
  if (type == CheckpointRequestType::kIncremental && !incremental_) {
    return Status::InvalidArgument("the job takes full checkpoints (" +
                                   std::string(config::kIncremental) +
                                   " is false): an incremental one cannot be asked for");
  }
  ControlRequest r;
  r.checkpoint_type = type;
  return AddRequestLocked(std::move(r));
}

std::optional<ControlRequestStatus> JobRuntime::RequestStatus(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = requests_.find(id);
  if (it == requests_.end()) return std::nullopt;
  return it->second.status;
}

void JobRuntime::FailRequestLocked(const std::string& request, const std::string& why) {
  auto it = requests_.find(request);
  if (it == requests_.end()) return;
  it->second.status.state = ControlRequestStatus::State::kFailed;
  it->second.status.failure = why;
  if (stopping_for_ == request) {
    stopping_for_.reset();
    LogWarn("stop of the job failed, the job goes on: " + why);
  }
}

void JobRuntime::FailOpenRequests(const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, r] : requests_) {
    if (r.status.state == ControlRequestStatus::State::kInProgress) FailRequestLocked(id, why);
  }
  queued_.clear();
  request_of_.clear();
  stop_snapshot_.reset();
}

CheckpointOptions JobRuntime::SavepointOptionsFor(const ControlRequest& r) const {
  // A new directory for every attempt: an aborted attempt's directory is being deleted.
  auto target = std::make_shared<const CheckpointStorage>(CheckpointStorage::ForSavepoint(
      r.parent.fs,
      JoinPath(r.parent.dir, "savepoint-" + job_id_.substr(0, 6) + "-" + RandomHex(12))));
  const bool terminate = r.savepoint_request.then == SavepointRequest::Then::kStop ||
                         r.savepoint_request.then == SavepointRequest::Then::kCancel;
  return CheckpointOptions::Savepoint(r.savepoint_request.format, std::move(target), terminate);
}

std::optional<uint64_t> JobRuntime::StartSnapshot(CheckpointOptions options,
                                                  const std::string& request) {
  // The first checkpoint after a restore without claim references nothing restored.
  // With changelog checkpoints, full means a materialization of its own (changelog_keyed_...).
  if (options.type == CheckpointOptions::Type::kCheckpoint &&
      (next_is_full_ || (!incremental_ && !changelog_writer_))) {
    options.type = CheckpointOptions::Type::kFullCheckpoint;
  }
  CheckpointKind kind =
      changelog_writer_ ? CheckpointKind::kChangelog : CheckpointKind::kIncremental;
  if (options.is_savepoint()) {
    kind = options.format == SavepointFormat::kNative ? CheckpointKind::kNativeSavepoint
                                                      : CheckpointKind::kCanonicalSavepoint;
  } else if (options.type == CheckpointOptions::Type::kFullCheckpoint) {
    kind = CheckpointKind::kFull;
  }
  auto id = coordinator_->StartCheckpoint(kind, task_ids_, NowUnixMs(), options.target);
  if (!id.ok()) {
    LogError("cannot start a checkpoint: " + id.status().ToString());
    if (!request.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      FailRequestLocked(request, id.status().ToString());
    }
    return std::nullopt;
  }
  auto shared = std::make_shared<const CheckpointOptions>(std::move(options));
  std::lock_guard<std::mutex> lock(mu_);
  if (!request.empty()) {
    request_of_[*id] = request;
    ControlRequest& r = requests_.at(request);
    const bool drain = r.savepoint_request.then == SavepointRequest::Then::kStopAndDrain;
    if (!drain) requested_.insert(*id);  // the drain's is the final checkpoint: it counts
    r.status.checkpoint_id = *id;
    r.triggered_steady_ms = NowSteadyMs();
    r.attempt = shared;
    if (shared->is_savepoint() && r.savepoint_request.then == SavepointRequest::Then::kContinue) {
      intermediate_savepoints_.insert(*id);
    }
    if (shared->terminate) stop_snapshot_ = *id;
    LogInfo(std::string(shared->is_savepoint() ? "savepoint " : "checkpoint ") +
            std::to_string(*id) + " triggered by request " + request +
            (shared->is_savepoint() ? " into " + shared->target->job_dir() : ""));
  }
  for (auto& task : tasks_) {
    if (task->is_source()) {
      task->inbox().Post({Mail::Kind::kTriggerCheckpoint, *id, shared});
    }
  }
  return *id;
}

std::optional<JobOutcome> JobRuntime::HandleControl(int64_t now_ms, bool all_finished,
                                                    const std::vector<uint64_t>& completed,
                                                    const std::vector<uint64_t>& aborted) {
  std::optional<JobOutcome> outcome;
  std::vector<std::string> queued;
  std::vector<uint64_t> expired;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (uint64_t id : completed) {
      auto of = request_of_.find(id);
      if (of == request_of_.end()) continue;
      ControlRequest& r = requests_.at(of->second);
      r.status.state = ControlRequestStatus::State::kCompleted;
      r.status.location = r.attempt && r.attempt->is_savepoint() ? r.attempt->target->job_dir()
                                                                 : storage_->MetadataPath(id);
      LogInfo(std::string(r.savepoint ? "savepoint " : "checkpoint ") + std::to_string(id) +
              " of request " + of->second + " completed: " + r.status.location);
      if (stop_snapshot_ == id || (final_checkpoint_ == id && stopping_for_ == of->second)) {
        stopped_with_ = r.status.location;
        stopped_by_ = of->second;
        outcome = r.savepoint_request.then == SavepointRequest::Then::kCancel
                      ? JobOutcome::kCancelled
                      : JobOutcome::kFinished;
      }
      intermediate_savepoints_.erase(id);
      request_of_.erase(of);
    }
    for (uint64_t id : aborted) {
      auto of = request_of_.find(id);
      if (of == request_of_.end()) continue;
      const std::string request = of->second;
      request_of_.erase(of);
      intermediate_savepoints_.erase(id);
      if (stop_snapshot_ == id) stop_snapshot_.reset();
      if (final_checkpoint_ == id && stopping_for_ == request) continue;  // the final one retries
      const auto stats = coordinator_->stats().Find(id);
      FailRequestLocked(request,
                        "checkpoint " + std::to_string(id) + " failed: " +
                            (stats && !stats->failure_reason.empty() ? stats->failure_reason
                                                                     : std::string("aborted")));
    }
    const int64_t timeout = config_.Get(config::kTimeout).count();
    for (const auto& [id, request] : request_of_) {
      if (final_checkpoint_ == id) continue;  // the scheduler expires it
      if (now_ms - requests_.at(request).triggered_steady_ms > timeout) {
        expired.push_back(id);
      }
    }
    queued.swap(queued_);
  }
  for (uint64_t id : expired) {
    LogWarn("checkpoint " + std::to_string(id) + " of a request expired before it completed");
    coordinator_->Abort(id, "expired");
  }
  if (outcome) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& task : tasks_) task->inbox().Post({Mail::Kind::kStop, 0});
    return outcome;
  }
  for (const std::string& request : queued) {
    ControlRequest r;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (all_finished || final_checkpoint_.has_value()) {
        FailRequestLocked(request, "the job is finishing: its input has ended");
        continue;
      }
      r = requests_.at(request);
    }
    if (r.savepoint && r.savepoint_request.then == SavepointRequest::Then::kStopAndDrain) {
      // Sources end their input; once every task finished, the final snapshot is the savepoint.
      LogInfo("stopping with a savepoint after draining (request " + request + ")");
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& task : tasks_) {
        if (task->is_source()) task->inbox().Post({Mail::Kind::kEndInput, 0});
      }
      continue;
    }
    CheckpointOptions options;
    if (r.savepoint) {
      options = SavepointOptionsFor(r);
    } else if (r.checkpoint_type == CheckpointRequestType::kFull) {
      options = CheckpointOptions::FullCheckpoint();
    }
    (void)StartSnapshot(std::move(options), request);
  }
  return std::nullopt;
}

bool JobRuntime::IsRequested(uint64_t checkpoint_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return requested_.count(checkpoint_id) != 0;
}

}  // namespace weir
