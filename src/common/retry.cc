#include "common/retry.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "common/log.h"

namespace weir {

Status RetryRetryable(const std::string& what, const std::function<Status()>& op,
                      const RetryOptions& options) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  int64_t backoff = options.initial_backoff_ms;
  Status s;
  for (int attempt = 1;; ++attempt) {
    s = op();
    if (s.ok() || !s.retryable() || attempt >= options.max_attempts) return s;
    std::uniform_int_distribution<int64_t> jitter(backoff / 2, backoff + backoff / 2);
    const int64_t sleep_ms = jitter(rng);
    LogWarn(what + " failed (attempt " + std::to_string(attempt) + " of " +
            std::to_string(options.max_attempts) + "), retrying in " + std::to_string(sleep_ms) +
            " ms: " + s.ToString());
    std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
    backoff = std::min(options.max_backoff_ms, backoff * 2);
  }
}

}  // namespace weir
