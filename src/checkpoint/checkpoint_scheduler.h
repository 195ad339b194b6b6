// CheckpointScheduler: when to trigger the next checkpoint, which pending ones have expired, and
// whether checkpoint failures have gone past the tolerance. Pure decisions over the facts it is
// told (triggers, completions, failures, the clock value passed in), so they are tested without
// threads or sleeping; the runtime's checkpoint loop carries them out.
//
// Rules (Flink's): a checkpoint is due `interval` after the previous trigger, but never sooner
// than `min_pause` after the previous checkpoint ended, and only while fewer than
// `max_concurrent` are pending (min_pause > 0 implies one at a time). A pending checkpoint older
// than `timeout` expires. Every failed checkpoint (expired, declined, a snapshot error) counts;
// an abort alone does not (a subsumed checkpoint is aborted too); a completed checkpoint resets
// the count; more than `tolerable_failures` in a row fail the job.
// Not thread-safe: owned by one loop.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

namespace weir {

struct CheckpointSchedulerOptions {
  int64_t interval_ms = 0;  // 0: periodic checkpoints are off
  int64_t min_pause_ms = 0;
  int64_t timeout_ms = 600000;
  int max_concurrent = 1;
  int tolerable_failures = 0;
};

class CheckpointScheduler {
 public:
  CheckpointScheduler(CheckpointSchedulerOptions options, int64_t now_ms);

  bool periodic() const { return options_.interval_ms > 0; }
  // Whether a periodic checkpoint should be triggered at `now_ms`.
  bool ShouldTrigger(int64_t now_ms) const;
  // The earliest time a trigger may become due (for sleeping); nullopt when periodic checkpoints
  // are off or the concurrency limit blocks until a pending checkpoint ends.
  std::optional<int64_t> NextTriggerTime() const;
  // Pending checkpoints that are older than the timeout at `now_ms`.
  std::vector<uint64_t> Expired(int64_t now_ms) const;
  size_t pending_count() const { return pending_.size(); }
  bool IsPending(uint64_t id) const { return pending_.count(id) > 0; }

  void OnTriggered(uint64_t id, int64_t now_ms);
  void OnCompleted(uint64_t id, int64_t now_ms);
  // N ended without completing, for whatever reason (it may also have been subsumed by a newer
  // completed checkpoint, or the job's tasks stopped): it is no longer pending.
  void OnAborted(uint64_t id, int64_t now_ms);
  // N failed (expired, declined by a task, its completion failed): counts once per checkpoint,
  // unless a newer checkpoint completed already. Independent of the order in which the abort
  // and the failure are reported.
  void OnFailed(uint64_t id);
  int consecutive_failures() const { return consecutive_failures_; }
  bool FailuresExceedTolerance() const {
    return consecutive_failures_ > options_.tolerable_failures;
  }
  // After the job restarted: pending checkpoints are gone, the interval starts again, and the
  // failure count starts from zero.
  void Reset(int64_t now_ms);

 private:
  CheckpointSchedulerOptions options_;
  std::map<uint64_t, int64_t> pending_;  // id -> trigger time
  int64_t last_trigger_ms_;
  int64_t last_end_ms_;
  int consecutive_failures_ = 0;
  uint64_t latest_completed_ = 0;
  std::set<uint64_t> failed_;  // counted already (bounded: cleared on completion and reset)
};

}  // namespace weir
