#include "checkpoint/checkpoint_stats.h"

#include <algorithm>

namespace weir {

const char* CheckpointStatusName(CheckpointStatus s) {
  switch (s) {
    case CheckpointStatus::kInProgress:
      return "IN_PROGRESS";
    case CheckpointStatus::kCompleted:
      return "COMPLETED";
    case CheckpointStatus::kFailed:
      return "FAILED";
  }
  return "?";
}

namespace {

template <typename Field>
int64_t MaxOverSubtasks(const std::vector<SubtaskCheckpointStats>& subtasks, Field field) {
  int64_t longest = 0;
  for (const auto& s : subtasks) longest = std::max(longest, s.*field);
  return longest;
}

}  // namespace

int64_t CheckpointStats::max_sync_duration_us() const {
  return MaxOverSubtasks(subtasks, &SubtaskCheckpointStats::sync_duration_us);
}

int64_t CheckpointStats::max_backend_sync_duration_us() const {
  return MaxOverSubtasks(subtasks, &SubtaskCheckpointStats::backend_sync_duration_us);
}

int64_t CheckpointStats::max_async_duration_us() const {
  return MaxOverSubtasks(subtasks, &SubtaskCheckpointStats::async_duration_us);
}

SubtaskCheckpointStats SubtaskStatsOf(uint64_t checkpoint_id, const TaskStateSnapshot& snapshot,
                                      int64_t now_unix_ms) {
  SubtaskCheckpointStats s;
  s.task_id = snapshot.task_id;
  s.acknowledged_unix_ms = now_unix_ms;
  s.sync_duration_us = snapshot.sync_duration_us;
  s.backend_sync_duration_us = snapshot.backend_sync_duration_us;
  s.alignment_duration_us = snapshot.alignment_duration_us;
  s.async_duration_us = snapshot.async_duration_us;
  s.barrier_unix_ms = snapshot.barrier_unix_ms;
  for (const auto& b : snapshot.backends) {
    s.checkpointed_bytes += b.checkpointed_bytes;
    s.full_bytes += b.full_bytes;
    for (const auto& f : b.files) {
      if (f.written_by_checkpoint == checkpoint_id) {
        ++s.files_written;
      } else {
        ++s.files_reused;
      }
    }
  }
  return s;
}

CheckpointStats* CheckpointStatsTracker::Get(uint64_t id) {
  auto it = std::find_if(history_.begin(), history_.end(),
                         [&](const CheckpointStats& c) { return c.checkpoint_id == id; });
  return it == history_.end() ? nullptr : &*it;
}

void CheckpointStatsTracker::Trim() {
  // The oldest go first, whatever their status (with fewer checkpoints in flight than the bound,
  // only finished ones); the counts and the latest ones are kept apart and stay exact.
  while (history_.size() > history_size_) history_.pop_front();
}

void CheckpointStatsTracker::ReportPending(uint64_t id, CheckpointKind kind,
                                           int64_t trigger_unix_ms, int subtasks_total) {
  std::lock_guard lock(mu_);
  CheckpointStats c;
  c.checkpoint_id = id;
  c.kind = kind;
  c.trigger_unix_ms = trigger_unix_ms;
  c.subtasks_total = subtasks_total;
  history_.push_back(std::move(c));
  Trim();
}

void CheckpointStatsTracker::ReportAcknowledged(uint64_t id, SubtaskCheckpointStats subtask) {
  std::lock_guard lock(mu_);
  CheckpointStats* c = Get(id);
  if (c == nullptr || c->status != CheckpointStatus::kInProgress) return;
  c->checkpointed_bytes += subtask.checkpointed_bytes;
  c->full_bytes += subtask.full_bytes;
  c->subtasks.push_back(std::move(subtask));
}

void CheckpointStatsTracker::ReportCompleted(uint64_t id, int64_t end_unix_ms,
                                             std::string metadata_path) {
  std::lock_guard lock(mu_);
  CheckpointStats* c = Get(id);
  if (c == nullptr || c->status != CheckpointStatus::kInProgress) return;
  c->status = CheckpointStatus::kCompleted;
  c->end_unix_ms = end_unix_ms;
  c->metadata_path = std::move(metadata_path);
  ++completed_;
  (IsSavepoint(c->kind) ? latest_savepoint_ : latest_completed_) = *c;
}

void CheckpointStatsTracker::ReportFailed(uint64_t id, int64_t end_unix_ms, std::string reason) {
  std::lock_guard lock(mu_);
  CheckpointStats* c = Get(id);
  if (c == nullptr || c->status != CheckpointStatus::kInProgress) return;
  c->status = CheckpointStatus::kFailed;
  c->end_unix_ms = end_unix_ms;
  c->failure_reason = std::move(reason);
  ++failed_;
  latest_failed_ = *c;
}

void CheckpointStatsTracker::ReportRestored(RestoreStats restore) {
  std::lock_guard lock(mu_);
  ++restored_;
  latest_restore_ = std::move(restore);
}

CheckpointStatsSnapshot CheckpointStatsTracker::Snapshot() const {
  std::lock_guard lock(mu_);
  CheckpointStatsSnapshot s;
  s.completed = completed_;
  s.failed = failed_;
  s.restored = restored_;
  for (auto it = history_.rbegin(); it != history_.rend(); ++it) {
    if (it->status == CheckpointStatus::kInProgress) ++s.in_progress;
    s.history.push_back(*it);
  }
  s.latest_completed = latest_completed_;
  s.latest_savepoint = latest_savepoint_;
  s.latest_failed = latest_failed_;
  s.latest_restore = latest_restore_;
  return s;
}

std::optional<CheckpointStats> CheckpointStatsTracker::Find(uint64_t id) const {
  std::lock_guard lock(mu_);
  for (const auto& c : history_) {
    if (c.checkpoint_id == id) return c;
  }
  return std::nullopt;
}

}  // namespace weir
