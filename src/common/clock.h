// Clocks in milliseconds: Unix time for what is recorded (checkpoint times, timers) and a
// monotonic clock for what is measured or scheduled (intervals, timeouts).
#pragma once

#include <chrono>
#include <cstdint>

namespace weir {

inline int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline int64_t NowSteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace weir
