// Checkpoint statistics: what every checkpoint of a job cost and how it ended, as Flink's
// checkpoint tab shows them, kept by the coordinator for the REST API, the dashboard and the
// metrics. For each checkpoint: id, kind, trigger time, end-to-end duration, status (in progress,
// completed, failed with the reason) and, per acknowledging subtask, the synchronous pause, the
// barrier alignment, the asynchronous part, the bytes it wrote, the full size of its state and
// the files written and reused. Job level: counts, the latest completed and failed checkpoint,
// the latest restore. The history is bounded (web.checkpoints.history): the oldest entries go;
// reports about a checkpoint no longer in it are ignored.
//
// Thread-safe: reports come from the coordinator (any thread), snapshots from any reader.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_metadata.h"
#include "snapshot/task_state_snapshot.h"

namespace weir {

struct SubtaskCheckpointStats {
  std::string task_id;
  int64_t acknowledged_unix_ms = 0;
  int64_t sync_duration_us = 0;
  int64_t backend_sync_duration_us = 0;  // the keyed state backends' share of the sync pause
  int64_t alignment_duration_us = 0;
  int64_t async_duration_us = 0;
  int64_t barrier_unix_ms = 0;  // the first barrier's arrival (a source: the trigger's)
  uint64_t checkpointed_bytes = 0;
  uint64_t full_bytes = 0;
  uint64_t files_written = 0;
  uint64_t files_reused = 0;
};

enum class CheckpointStatus { kInProgress, kCompleted, kFailed };
const char* CheckpointStatusName(CheckpointStatus s);

struct CheckpointStats {
  uint64_t checkpoint_id = 0;
  CheckpointKind kind = CheckpointKind::kFull;
  CheckpointStatus status = CheckpointStatus::kInProgress;
  int64_t trigger_unix_ms = 0;
  int64_t end_unix_ms = 0;  // completion or failure; 0 while in progress
  std::string failure_reason;
  std::string metadata_path;  // completed only
  int subtasks_total = 0;
  std::vector<SubtaskCheckpointStats> subtasks;  // in acknowledgement order
  uint64_t checkpointed_bytes = 0;               // sums over the subtasks
  uint64_t full_bytes = 0;
  int64_t duration_ms(int64_t now_unix_ms) const {
    return (end_unix_ms > 0 ? end_unix_ms : now_unix_ms) - trigger_unix_ms;
  }
  // The longest of any subtask: what the slowest one paused processing, its backends' share of
  // that pause, and its asynchronous part.
  int64_t max_sync_duration_us() const;
  int64_t max_backend_sync_duration_us() const;
  int64_t max_async_duration_us() const;
};

struct RestoreStats {
  uint64_t checkpoint_id = 0;
  std::string metadata_path;
  int64_t restore_unix_ms = 0;
  int64_t duration_ms = 0;
  bool is_savepoint = false;
};

struct CheckpointStatsSnapshot {
  uint64_t completed = 0;
  uint64_t failed = 0;
  uint64_t in_progress = 0;
  uint64_t restored = 0;
  std::vector<CheckpointStats> history;             // newest first
  std::optional<CheckpointStats> latest_completed;  // the latest completed checkpoint
  std::optional<CheckpointStats> latest_savepoint;  // the latest completed savepoint
  std::optional<CheckpointStats> latest_failed;
  std::optional<RestoreStats> latest_restore;
};

// The statistics one acknowledgement carries: durations as measured by the task, sizes and file
// counts from its state handles (a file is written by checkpoint N when N uploaded it).
SubtaskCheckpointStats SubtaskStatsOf(uint64_t checkpoint_id, const TaskStateSnapshot& snapshot,
                                      int64_t now_unix_ms);

class CheckpointStatsTracker {
 public:
  explicit CheckpointStatsTracker(size_t history_size = 100)
      : history_size_(std::max<size_t>(1, history_size)) {}

  void ReportPending(uint64_t id, CheckpointKind kind, int64_t trigger_unix_ms, int subtasks_total);
  void ReportAcknowledged(uint64_t id, SubtaskCheckpointStats subtask);
  void ReportCompleted(uint64_t id, int64_t end_unix_ms, std::string metadata_path);
  // Once per checkpoint: a checkpoint already completed or failed keeps its outcome.
  void ReportFailed(uint64_t id, int64_t end_unix_ms, std::string reason);
  void ReportRestored(RestoreStats restore);

  CheckpointStatsSnapshot Snapshot() const;
  std::optional<CheckpointStats> Find(uint64_t id) const;

 private:
  CheckpointStats* Get(uint64_t id);
  void Trim();

  const size_t history_size_;
  mutable std::mutex mu_;
  std::deque<CheckpointStats> history_;  // oldest first
  uint64_t completed_ = 0;
  uint64_t failed_ = 0;
  uint64_t restored_ = 0;
  std::optional<CheckpointStats> latest_completed_;
  std::optional<CheckpointStats> latest_savepoint_;
  std::optional<CheckpointStats> latest_failed_;
  std::optional<RestoreStats> latest_restore_;
};

}  // namespace weir
