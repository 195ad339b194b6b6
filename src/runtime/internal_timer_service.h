// InternalTimerService: the processing-time timers of one keyed subtask. Each timer is a row of
// the keyed state "__weir_timers" (a map from timestamp to nothing, under its key), so timers are
// in every checkpoint and come back with the state; an in-memory queue ordered by time decides
// which fires next. The subtask's thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "weir/keyed_state_backend.h"
#include "weir/stream_operator.h"

namespace weir {

class InternalTimerService final : public TimerService {
 public:
  static constexpr std::string_view kStateName = "__weir_timers";
  // `current_key` is the serialized key the backend is set to while a record is processed.
  InternalTimerService(KeyedStateBackend* backend, const std::string* current_key);
  // Registers the timers' state and reads back the timers of a restored backend.
  Status Open();

  int64_t CurrentProcessingTime() const override;
  Status RegisterProcessingTimeTimer(int64_t timestamp_ms) override;
  Status DeleteProcessingTimeTimer(int64_t timestamp_ms) override;

  std::optional<int64_t> NextTimer() const;
  // Fires every timer due at `now_ms`, earliest first: sets the backend's key, removes the timer,
  // then calls `fire(timestamp, key)`.
  Status FireDue(int64_t now_ms,
                 const std::function<Status(int64_t timestamp, const std::string& key)>& fire);
  size_t size() const { return queue_.size(); }

 private:
  KeyedStateBackend* backend_;
  const std::string* current_key_;
  MapState<int64_t, bool>* state_ = nullptr;
  std::set<std::pair<int64_t, std::string>> queue_;
};

}  // namespace weir
