#include "runtime/internal_timer_service.h"

#include <chrono>
#include <vector>

namespace weir {

InternalTimerService::InternalTimerService(KeyedStateBackend* backend,
                                           const std::string* current_key)
    : backend_(backend), current_key_(current_key) {}

Status InternalTimerService::Load(MapState<int64_t, bool>* state, std::string_view name,
                                  Queue* queue) {
  std::vector<std::string> keys;
  WEIR_RETURN_IF_ERROR(backend_->ForEachKey(name, {}, [&](std::string_view key) {
    keys.emplace_back(key);
    return true;
  }));
  for (const auto& key : keys) {
    WEIR_RETURN_IF_ERROR(backend_->SetCurrentKey(key));
    WEIR_ASSIGN_OR_RETURN(std::vector<int64_t> times, state->Keys());
    for (int64_t t : times) queue->emplace(t, key);
  }
  return Status::OK();
}

Status InternalTimerService::Open() {
  WEIR_ASSIGN_OR_RETURN(
      state_, backend_->GetMapState(MapStateDescriptor<int64_t, bool>{std::string(kStateName)}));
  WEIR_RETURN_IF_ERROR(Load(state_, kStateName, &queue_));
  // The event-time timers' state is registered with the first such timer (a job without any
  // has no column family for them), or here if the restored state has it.
  for (const StateMetaInfo& meta : backend_->RegisteredStates()) {
    if (meta.name != kEventTimeStateName) continue;
    WEIR_RETURN_IF_ERROR(OpenEventTimeState());
    return Load(event_state_, kEventTimeStateName, &event_queue_);
  }
  return Status::OK();
}

Status InternalTimerService::OpenEventTimeState() {
  if (event_state_ != nullptr) return Status::OK();
  WEIR_ASSIGN_OR_RETURN(
      event_state_,
      backend_->GetMapState(MapStateDescriptor<int64_t, bool>{std::string(kEventTimeStateName)}));
  return Status::OK();
}

int64_t InternalTimerService::CurrentProcessingTime() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status InternalTimerService::RegisterProcessingTimeTimer(int64_t timestamp_ms) {
  if (!queue_.emplace(timestamp_ms, *current_key_).second) return Status::OK();
  return state_->Put(timestamp_ms, true);
}

Status InternalTimerService::DeleteProcessingTimeTimer(int64_t timestamp_ms) {
  if (queue_.erase({timestamp_ms, *current_key_}) == 0) return Status::OK();
  return state_->Remove(timestamp_ms);
}

Status InternalTimerService::RegisterEventTimeTimer(int64_t timestamp_ms) {
  WEIR_RETURN_IF_ERROR(OpenEventTimeState());
  if (!event_queue_.emplace(timestamp_ms, *current_key_).second) return Status::OK();
  return event_state_->Put(timestamp_ms, true);
}

Status InternalTimerService::DeleteEventTimeTimer(int64_t timestamp_ms) {
  if (event_queue_.erase({timestamp_ms, *current_key_}) == 0) return Status::OK();
  return event_state_->Remove(timestamp_ms);
}

std::optional<int64_t> InternalTimerService::NextTimer() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.begin()->first;
}

Status InternalTimerService::FireUntil(int64_t time, MapState<int64_t, bool>* state, Queue* queue,
                                       const Fire& fire) {
  while (!queue->empty() && queue->begin()->first <= time) {
    auto [timestamp, key] = *queue->begin();
    queue->erase(queue->begin());
    WEIR_RETURN_IF_ERROR(backend_->SetCurrentKey(key));
    WEIR_RETURN_IF_ERROR(state->Remove(timestamp));
    WEIR_RETURN_IF_ERROR(fire(timestamp, key));
  }
  return Status::OK();
}

Status InternalTimerService::FireDue(int64_t now_ms, const Fire& fire) {
  return FireUntil(now_ms, state_, &queue_, fire);
}

Status InternalTimerService::AdvanceWatermark(int64_t watermark, const Fire& fire) {
  if (watermark > watermark_) watermark_ = watermark;
  return FireUntil(watermark_, event_state_, &event_queue_, fire);
}

}  // namespace weir
