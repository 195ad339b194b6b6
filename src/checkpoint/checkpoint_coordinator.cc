#include "checkpoint/checkpoint_coordinator.h"

#include <algorithm>
#include <future>
#include <tuple>

#include "common/clock.h"
#include "common/failpoint.h"

namespace weir {

CoordinatorComponents DefaultCoordinatorComponents(const CheckpointStorage& storage,
                                                   const CoordinatorOptions& options) {
  CoordinatorComponents c;
  c.store = std::make_unique<CompletedCheckpointStore>(options.num_retained);
  c.cleaner = std::make_unique<CheckpointCleaner>(storage);
  c.stats = std::make_shared<CheckpointStatsTracker>(options.stats_history);
  return c;
}

CheckpointCoordinator::CheckpointCoordinator(CheckpointStorage storage, CoordinatorOptions options,
                                             CoordinatorComponents components)
    : storage_(std::move(storage)),
      options_(std::move(options)),
      store_(std::move(components.store)),
      cleaner_(std::move(components.cleaner)),
      stats_(std::move(components.stats)),
      next_id_(std::max<uint64_t>(1, options_.first_checkpoint_id)) {}

CheckpointCoordinator::CheckpointCoordinator(CheckpointStorage storage, CoordinatorOptions options)
    : CheckpointCoordinator(storage, options, DefaultCoordinatorComponents(storage, options)) {}

CheckpointCoordinator::~CheckpointCoordinator() {
  io_.WaitIdle();
  cleaner_->WaitIdle();
}

Result<RecoveredStore> CheckpointCoordinator::Recover(std::optional<uint64_t> newest) {
  WEIR_RETURN_IF_ERROR(storage_.Initialize());
  // Storage is read before the lock is taken: readers are answered meanwhile.
  WEIR_ASSIGN_OR_RETURN(StoredCheckpoints stored, ReadStoredCheckpoints(storage_, newest));
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_ASSIGN_OR_RETURN(RecoveredStore recovered,
                        RegisterStoredCheckpoints(std::move(stored), store_.get()));
  next_id_ = std::max(next_id_, recovered.highest_checkpoint_id + 1);
  cleaner_->Discard(recovered.discard);
  return recovered;
}

void CheckpointCoordinator::AddListener(CheckpointListener* listener) {
  std::lock_guard<std::mutex> lock(mu_);
  listeners_.push_back(listener);
}

Result<uint64_t> CheckpointCoordinator::StartCheckpoint(
    CheckpointKind kind, std::vector<std::string> task_ids, int64_t trigger_unix_ms,
    std::shared_ptr<const CheckpointStorage> savepoint) {
  if (IsSavepoint(kind) != (savepoint != nullptr) || (savepoint && !savepoint->is_savepoint())) {
    return Status::InvalidArgument("a savepoint, and only a savepoint, has a savepoint directory");
  }
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t id = next_id_++;
  Pending p{kind, trigger_unix_ms, {task_ids.begin(), task_ids.end()}, {}, {}, savepoint};
  if (p.awaiting.size() != task_ids.size()) {
    return Status::InvalidArgument("checkpoint " + std::to_string(id) + ": duplicate task ids");
  }
  pending_.emplace(id, std::move(p));
  if (savepoint) {
    savepoints_.emplace(id, std::move(savepoint));
  } else {
    store_->AddPending(id);
  }
  stats_->ReportPending(id, kind, trigger_unix_ms, static_cast<int>(task_ids.size()));
  return id;
}

CheckpointCoordinator::AckResult CheckpointCoordinator::Acknowledge(uint64_t checkpoint_id,
                                                                    KeyedStateHandle handle,
                                                                    int64_t now_unix_ms) {
  TaskStateSnapshot snapshot;
  snapshot.task_id = handle.backend_id;
  snapshot.backends.push_back(std::move(handle));
  return Acknowledge(checkpoint_id, std::move(snapshot), now_unix_ms);
}

CheckpointCoordinator::AckResult CheckpointCoordinator::Acknowledge(uint64_t checkpoint_id,
                                                                    TaskStateSnapshot snapshot,
                                                                    int64_t now_unix_ms) {
  std::promise<AckResult> outcome;
  std::future<AckResult> ready = outcome.get_future();
  Acknowledge(checkpoint_id, std::move(snapshot), now_unix_ms,
              [&outcome](AckResult r) { outcome.set_value(std::move(r)); });
  return ready.get();
}

void CheckpointCoordinator::Acknowledge(uint64_t checkpoint_id, TaskStateSnapshot snapshot,
                                        int64_t now_unix_ms, AckCallback done) {
  std::vector<uint64_t> aborted;
  Result<bool> last = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    last = AcknowledgeLocked(checkpoint_id, std::move(snapshot), now_unix_ms, &aborted);
  }
  NotifyAll({}, aborted);
  if (!last.ok()) {
    done(last.status());
  } else if (!*last) {
    done(std::optional<CheckpointMetadata>());
  } else {
    io_.Submit([this, checkpoint_id, now_unix_ms, done = std::move(done)]() mutable {
      Complete(checkpoint_id, now_unix_ms, std::move(done));
    });
  }
}

Result<bool> CheckpointCoordinator::AcknowledgeLocked(uint64_t checkpoint_id,
                                                      TaskStateSnapshot snapshot,
                                                      int64_t now_unix_ms,
                                                      std::vector<uint64_t>* aborted) {
  if (completing_.count(checkpoint_id) != 0) {
    // Every awaited task acknowledged already: this one is a duplicate whose files may be those
    // of an accepted acknowledgement, so nothing is deleted (gc finds leftovers).
    return Status::InvalidArgument("checkpoint " + std::to_string(checkpoint_id) +
                                   " is completing and awaits no task");
  }
  auto it = pending_.find(checkpoint_id);
  if (it == pending_.end()) {
    DiscardPendingLocked(checkpoint_id, snapshot.backends);
    return Status::Aborted("checkpoint " + std::to_string(checkpoint_id) + " is not pending");
  }
  if (it->second.awaiting.erase(snapshot.task_id) == 0) {
    // A duplicate or unexpected acknowledgement of a checkpoint still in flight: its files
    // may be those of an accepted acknowledgement, so nothing is deleted (gc finds leftovers).
    return Status::InvalidArgument("checkpoint " + std::to_string(checkpoint_id) +
                                   " does not await task " + snapshot.task_id);
  }
  for (auto& b : snapshot.backends) it->second.acknowledged.push_back(b);
  // A savepoint's files are its own, in its directory: it holds nothing of the job's.
  Status held = it->second.savepoint ? Status::OK()
                                     : store_->HoldForPending(checkpoint_id, snapshot.backends);
  if (!held.ok()) {
    // It builds on files that are gone or going: it can never complete.
    stats_->ReportFailed(checkpoint_id, now_unix_ms, held.message());
    DiscardPendingLocked(checkpoint_id, it->second.acknowledged);
    pending_.erase(it);
    aborted->push_back(checkpoint_id);
    return Status::Aborted(held.message());
  }
  stats_->ReportAcknowledged(checkpoint_id, SubtaskStatsOf(checkpoint_id, snapshot, now_unix_ms));
  for (auto& s : snapshot.operator_states) it->second.operator_states.push_back(std::move(s));
  if (!it->second.awaiting.empty()) return false;
  completing_.emplace(checkpoint_id, std::move(it->second));
  pending_.erase(it);
  return true;
}

void CheckpointCoordinator::Complete(uint64_t id, int64_t now_unix_ms, AckCallback done) {
  std::vector<uint64_t> completed, aborted;
  AckResult result = std::optional<CheckpointMetadata>();
  std::optional<CheckpointMetadata> m;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = completing_.find(id);
    const auto* latest = it->second.savepoint ? nullptr : store_->Latest();
    if (latest != nullptr && latest->checkpoint_id >= id) {
      // A newer checkpoint completed first: this one can no longer become the latest. Like a
      // pending checkpoint a completion subsumes, it is aborted, not failed.
      result = Status::Aborted("subsumed: checkpoint " + std::to_string(latest->checkpoint_id) +
                               " completed first");
      stats_->ReportFailed(id, now_unix_ms, result.status().ToString());
      DiscardPendingLocked(id, it->second.acknowledged);
      aborted.push_back(id);
      completing_.erase(it);
    } else {
      m = MetadataOf(id, it->second, now_unix_ms);
    }
  }
  if (m) {
    bool metadata_may_exist = false;
    std::shared_ptr<const CheckpointStorage> savepoint;
    {
      std::lock_guard<std::mutex> lock(mu_);
      savepoint = completing_.find(id)->second.savepoint;
    }
    const CheckpointStorage& to = savepoint ? *savepoint : storage_;
    Status written = WriteMetadata(to, *m, &metadata_may_exist);
    if (written.ok() && fence_) {
      if (Status fenced = fence_(*m, to.MetadataPath(id)); !fenced.ok()) {
        // Refused: N must not exist, whoever looks at the directory.
        const Status undo = to.fs().DeleteFile(to.MetadataPath(id));
        if (!undo.ok() && !undo.IsNotFound()) metadata_may_exist = true;
        written =
            Status::FailedPrecondition("checkpoint " + std::to_string(id) +
                                       " refused by its completion fence: " + fenced.message());
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto it = completing_.find(id);
    if (!written.ok()) {
      // No _metadata (or one that may exist: then every file is kept): N never existed.
      DiscardPendingLocked(id, it->second.acknowledged, metadata_may_exist);
      aborted.push_back(id);
      stats_->ReportFailed(id, now_unix_ms, written.ToString());
      result = written;
    } else {
      RegisterCompletedLocked(*m, now_unix_ms, &aborted);
      stats_->ReportCompleted(id, now_unix_ms, StorageOf(it->second).MetadataPath(id));
      if (savepoint) savepoints_.erase(id);  // the user's from now on
      completed.push_back(id);
      result = std::move(m);
    }
    completing_.erase(it);
  }
  NotifyAll(completed, aborted);
  done(std::move(result));
}

CheckpointMetadata CheckpointCoordinator::MetadataOf(uint64_t id, Pending pending,
                                                     int64_t now_unix_ms) const {
  CheckpointMetadata m;
  m.checkpoint_id = id;
  m.kind = pending.kind;
  m.trigger_unix_ms = pending.trigger_unix_ms;
  m.completed_unix_ms = now_unix_ms;
  m.job_id = options_.job_id;
  m.backends = std::move(pending.acknowledged);
  std::sort(m.backends.begin(), m.backends.end(),
            [](const auto& a, const auto& b) { return a.backend_id < b.backend_id; });
  m.operators = options_.operators;
  m.operator_states = std::move(pending.operator_states);
  std::sort(m.operator_states.begin(), m.operator_states.end(), [](const auto& a, const auto& b) {
    return std::tie(a.operator_uid, a.subtask) < std::tie(b.operator_uid, b.subtask);
  });
  return m;
}

Status CheckpointCoordinator::WriteMetadata(const CheckpointStorage& to,
                                            const CheckpointMetadata& m, bool* metadata_may_exist) {
  WEIR_FAILPOINT("checkpoint.before_metadata");
  if (Status written = WriteCheckpointMetadata(to, m); !written.ok()) {
    // The rename may have happened before a later step failed: make sure no _metadata is
    // left, or keep every file if that cannot be made sure.
    const Status undo = to.fs().DeleteFile(to.MetadataPath(m.checkpoint_id));
    if (!undo.ok() && !undo.IsNotFound()) *metadata_may_exist = true;
    return written;
  }
  return Status::OK();
}

void CheckpointCoordinator::RegisterCompletedLocked(const CheckpointMetadata& m,
                                                    int64_t now_unix_ms,
                                                    std::vector<uint64_t>* aborted) {
  const uint64_t id = m.checkpoint_id;
  // From here on checkpoint `id` exists and nothing may fail it; a crash below loses no state
  // and at most leaves unreferenced files for gc.
  (void)Failpoints::Instance().Hit("checkpoint.after_metadata");
  if (IsSavepoint(m.kind)) return;  // the user's: no part of the job's history
  // Cannot fail: completions run one at a time and each checks it is above the latest.
  auto plan = store_->Add(m);
  (void)Failpoints::Instance().Hit("checkpoint.after_register");
  if (plan.ok()) cleaner_->Discard(std::move(plan).value());
  // Pending checkpoints older than this one can no longer become the latest: abort them.
  // Savepoints are not part of that history: they go on.
  for (auto it = pending_.begin(); it != pending_.end() && it->first < id;) {
    if (it->second.savepoint) {
      ++it;
      continue;
    }
    stats_->ReportFailed(it->first, now_unix_ms,
                         "subsumed: checkpoint " + std::to_string(id) + " completed first");
    DiscardPendingLocked(it->first, it->second.acknowledged);
    aborted->push_back(it->first);
    it = pending_.erase(it);
  }
}

bool CheckpointCoordinator::Abort(uint64_t checkpoint_id, const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pending_.find(checkpoint_id);
    if (it == pending_.end()) return false;
    stats_->ReportFailed(checkpoint_id, NowUnixMs(), reason);
    DiscardPendingLocked(checkpoint_id, it->second.acknowledged);
    pending_.erase(it);
  }
  NotifyAll({}, {checkpoint_id});
  return true;
}

void CheckpointCoordinator::AbortAll(const std::string& reason) {
  for (uint64_t id : PendingIds()) Abort(id, reason);
  WaitForCompletions();
}

void CheckpointCoordinator::WaitForCompletions() { io_.WaitIdle(); }

void CheckpointCoordinator::DiscardPendingLocked(uint64_t id,
                                                 const std::vector<KeyedStateHandle>& handles,
                                                 bool metadata_may_exist) {
  if (auto sp = savepoints_.find(id); sp != savepoints_.end()) {
    // Every file of a savepoint is in its directory, weir's until its _metadata exists. Kept
    // for a late acknowledgement (its files are written by then), which deletes it again.
    if (!metadata_may_exist) cleaner_->DiscardAbortedSavepoint(sp->second);
    return;
  }
  const auto retained = store_->RetainedIds();
  if (std::find(retained.begin(), retained.end(), id) != retained.end()) return;  // it completed
  // Its holds go first: a file only it held (of a checkpoint subsumed meanwhile) goes too.
  DiscardPlan released = store_->RemovePending(id, /*keep_references=*/metadata_may_exist);
  // A changelog backend's files were written outside any checkpoint and its next checkpoint
  // references them again: an abort never deletes them (gc removes those no checkpoint took).
  std::set<std::string> written_outside;
  for (const auto& h : handles) {
    for (const auto& f : h.files) {
      if (f.written_by_checkpoint == 0) written_outside.insert(f.path);
    }
  }
  std::erase_if(released.shared_files,
                [&](const std::string& path) { return written_outside.count(path) != 0; });
  cleaner_->Discard(std::move(released));
  if (metadata_may_exist) return;  // keep every file it references
  std::vector<std::string> uploaded;
  for (const auto& h : handles) {
    for (const auto& f : h.files) {
      // Only what this checkpoint wrote and no other checkpoint references.
      if (f.written_by_checkpoint == id && !store_->registry().IsReferenced(f.path)) {
        uploaded.push_back(f.path);
      }
    }
  }
  cleaner_->DiscardAborted(id, std::move(uploaded));
}

void CheckpointCoordinator::NotifyAll(const std::vector<uint64_t>& completed,
                                      const std::vector<uint64_t>& aborted) {
  if (completed.empty() && aborted.empty()) return;
  std::vector<CheckpointListener*> listeners;
  {
    std::lock_guard<std::mutex> lock(mu_);
    listeners = listeners_;
  }
  for (auto* l : listeners) {
    for (uint64_t id : aborted) l->NotifyCheckpointAborted(id);
    for (uint64_t id : completed) l->NotifyCheckpointComplete(id);
  }
}

std::vector<uint64_t> CheckpointCoordinator::RetainedIds() const {
  std::lock_guard<std::mutex> lock(mu_);
  return store_->RetainedIds();
}

std::optional<CheckpointMetadata> CheckpointCoordinator::Latest() const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto* latest = store_->Latest();
  return latest ? std::optional<CheckpointMetadata>(*latest) : std::nullopt;
}

std::vector<CheckpointMetadata> CheckpointCoordinator::Retained() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {store_->checkpoints().begin(), store_->checkpoints().end()};
}

std::vector<uint64_t> CheckpointCoordinator::PendingIds() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<uint64_t> ids;
  for (const auto& [id, p] : pending_) ids.push_back(id);
  return ids;
}

std::set<std::string> CheckpointCoordinator::HeldSharedFiles() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<std::string> files;
  for (const auto& [path, holders] : store_->registry().references()) files.insert(path);
  return files;
}

}  // namespace weir
