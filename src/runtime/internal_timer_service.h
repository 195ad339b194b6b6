// InternalTimerService: the timers of one keyed subtask. Each timer is a row of a keyed state
// (processing-time timers in "__weir_timers", event-time timers in "__weir_event_timers": maps
// from timestamp to nothing, under their key), so timers are in every checkpoint, come back with
// the state and move with their key groups when the parallelism changes; in-memory queues
// ordered by time decide which fires next. Processing-time timers fire when the wall clock
// reaches them, event-time timers when the watermark does. The subtask's thread only.
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
  static constexpr std::string_view kEventTimeStateName = "__weir_event_timers";
  // `current_key` is the serialized key the backend is set to while a record is processed.
  InternalTimerService(KeyedStateBackend* backend, const std::string* current_key);
  // Registers the timers' states and reads back the timers of a restored backend.
  Status Open();

  int64_t CurrentProcessingTime() const override;
  Status RegisterProcessingTimeTimer(int64_t timestamp_ms) override;
  Status DeleteProcessingTimeTimer(int64_t timestamp_ms) override;
  int64_t CurrentWatermark() const override { return watermark_; }
  Status RegisterEventTimeTimer(int64_t timestamp_ms) override;
  Status DeleteEventTimeTimer(int64_t timestamp_ms) override;

  using Fire = std::function<Status(int64_t timestamp, const std::string& key)>;
  std::optional<int64_t> NextTimer() const;
  // Fires every processing-time timer due at `now_ms`, earliest first: sets the backend's key,
  // removes the timer, then calls `fire(timestamp, key)`.
  Status FireDue(int64_t now_ms, const Fire& fire);
  // Sets the watermark and fires every event-time timer at or before it, earliest first (timers
  // registered by `fire` at or before the watermark too).
  Status AdvanceWatermark(int64_t watermark, const Fire& fire);
  size_t size() const { return queue_.size(); }
  size_t event_time_size() const { return event_queue_.size(); }

 private:
  using Queue = std::set<std::pair<int64_t, std::string>>;
  Status Load(MapState<int64_t, bool>* state, std::string_view name, Queue* queue);
  Status OpenEventTimeState();
  Status FireUntil(int64_t time, MapState<int64_t, bool>* state, Queue* queue, const Fire& fire);

  KeyedStateBackend* backend_;
  const std::string* current_key_;
  MapState<int64_t, bool>* state_ = nullptr;
  MapState<int64_t, bool>* event_state_ = nullptr;
  Queue queue_;
  Queue event_queue_;
  int64_t watermark_ = kMinWatermark;
};

}  // namespace weir
