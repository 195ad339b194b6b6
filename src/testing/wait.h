// Waiting for a condition in tests that drive threads: poll instead of sleeping a fixed time, so
// a slow machine (or a sanitizer build) waits longer instead of failing.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace weir::testing {

// Polls `condition` every few milliseconds; false if it did not hold within `timeout`.
inline bool WaitFor(const std::function<bool()>& condition,
                    std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace weir::testing
