// Retries of storage operations whose error is marked retryable (a transient I/O error, a
// throttled request): exponential backoff with jitter, a bounded number of attempts. Errors that
// are not retryable are returned at once.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "weir/status.h"

namespace weir {

struct RetryOptions {
  int max_attempts = 4;
  int64_t initial_backoff_ms = 50;  // doubled after each failed attempt, +-50% jitter
  int64_t max_backoff_ms = 2000;
};

// Runs `op` until it succeeds, fails with an error that is not retryable, or `max_attempts` ran.
// Returns the last status; `what` names the operation in the log line of each retry.
Status RetryRetryable(const std::string& what, const std::function<Status()>& op,
                      const RetryOptions& options = {});

template <typename T>
Result<T> RetryRetryableResult(const std::string& what, const std::function<Result<T>()>& op,
                               const RetryOptions& options = {}) {
  Result<T> result = Status::Internal("not run");
  Status s = RetryRetryable(
      what,
      [&] {
        result = op();
        return result.ok() ? Status::OK() : result.status();
      },
      options);
  return result;
}

}  // namespace weir
