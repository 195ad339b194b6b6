#include "runtime/internal_timer_service.h"

#include <chrono>

namespace weir {

InternalTimerService::InternalTimerService(KeyedStateBackend* backend,
                                           const std::string* current_key)
    : backend_(backend), current_key_(current_key) {}

Status InternalTimerService::Open() {
  WEIR_ASSIGN_OR_RETURN(
      state_, backend_->GetMapState(MapStateDescriptor<int64_t, bool>{std::string(kStateName)}));
  std::vector<std::string> keys;
  WEIR_RETURN_IF_ERROR(backend_->ForEachKey(kStateName, {}, [&](std::string_view key) {
    keys.emplace_back(key);
    return true;
  }));
  for (const auto& key : keys) {
    WEIR_RETURN_IF_ERROR(backend_->SetCurrentKey(key));
    WEIR_ASSIGN_OR_RETURN(std::vector<int64_t> times, state_->Keys());
    for (int64_t t : times) queue_.emplace(t, key);
  }
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

std::optional<int64_t> InternalTimerService::NextTimer() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.begin()->first;
}

Status InternalTimerService::FireDue(
    int64_t now_ms, const std::function<Status(int64_t, const std::string&)>& fire) {
  while (!queue_.empty() && queue_.begin()->first <= now_ms) {
    auto [timestamp, key] = *queue_.begin();
    queue_.erase(queue_.begin());
    WEIR_RETURN_IF_ERROR(backend_->SetCurrentKey(key));
    WEIR_RETURN_IF_ERROR(state_->Remove(timestamp));
    WEIR_RETURN_IF_ERROR(fire(timestamp, key));
  }
  return Status::OK();
}

}  // namespace weir
