#include "checkpoint/checkpoint_scheduler.h"

#include <algorithm>

namespace weir {

CheckpointScheduler::CheckpointScheduler(CheckpointSchedulerOptions options, int64_t now_ms)
    : options_(options), last_trigger_ms_(now_ms), last_end_ms_(now_ms) {
  if (options_.min_pause_ms > 0) options_.max_concurrent = 1;
  options_.max_concurrent = std::max(1, options_.max_concurrent);
}

std::optional<int64_t> CheckpointScheduler::NextTriggerTime() const {
  if (!periodic() || static_cast<int>(pending_.size()) >= options_.max_concurrent) {
    return std::nullopt;
  }
  return std::max(last_trigger_ms_ + options_.interval_ms, last_end_ms_ + options_.min_pause_ms);
}

bool CheckpointScheduler::ShouldTrigger(int64_t now_ms) const {
  const auto next = NextTriggerTime();
  return next.has_value() && now_ms >= *next;
}

std::vector<uint64_t> CheckpointScheduler::Expired(int64_t now_ms) const {
  std::vector<uint64_t> expired;
  for (const auto& [id, triggered] : pending_) {
    if (now_ms - triggered >= options_.timeout_ms) expired.push_back(id);
  }
  return expired;
}

void CheckpointScheduler::OnTriggered(uint64_t id, int64_t now_ms) {
  pending_[id] = now_ms;
  last_trigger_ms_ = now_ms;
}

void CheckpointScheduler::OnCompleted(uint64_t id, int64_t now_ms) {
  latest_completed_ = std::max(latest_completed_, id);
  failed_.clear();
  consecutive_failures_ = 0;
  if (pending_.erase(id) > 0) last_end_ms_ = std::max(last_end_ms_, now_ms);
}

void CheckpointScheduler::OnAborted(uint64_t id, int64_t now_ms) {
  if (pending_.erase(id) > 0) last_end_ms_ = std::max(last_end_ms_, now_ms);
}

void CheckpointScheduler::OnFailed(uint64_t id) {
  if (id <= latest_completed_ || !failed_.insert(id).second) return;
  ++consecutive_failures_;
}

void CheckpointScheduler::Reset(int64_t now_ms) {
  pending_.clear();
  failed_.clear();
  consecutive_failures_ = 0;
  last_trigger_ms_ = now_ms;
  last_end_ms_ = now_ms;
}

}  // namespace weir
