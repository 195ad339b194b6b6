// Progress of a long operation (restore of large state, `checkpoints verify`, `gc`, big
// uploads): files and bytes done of the total, and the rate. On a terminal one line redrawn in
// place (at most every 200 ms); otherwise a plain log line every 10 s. An operation that ends
// within its first report interval prints nothing, so quick ones stay quiet.
//
// Thread-safe: Add() from any number of threads (an I/O pool).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

namespace weir {

struct ProgressOptions {
  bool terminal = false;                        // redraw one line ('\r') instead of log lines
  int64_t interval_ms = 10000;                  // between log lines (terminal: 200)
  int64_t first_report_ms = 1000;               // nothing before this much time has passed
  std::function<void(std::string_view)> write;  // default: stderr (terminal) or the log
  std::function<int64_t()> now_ms;              // default: the steady clock
};

// Terminal or not by stderr; WEIR_PROGRESS_INTERVAL_MS overrides the log interval.
ProgressOptions DefaultProgressOptions();

class Progress {
 public:
  Progress(std::string what, uint64_t total_files, uint64_t total_bytes,
           ProgressOptions options = DefaultProgressOptions());
  ~Progress() { Finish(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void Add(uint64_t files, uint64_t bytes);
  // The final line (only if a report was printed before). Idempotent.
  void Finish();

  // "verify: 12/40 files, 120.0/512.0 MiB (23%), 85.3 MiB/s"
  std::string Line() const;

 private:
  std::string LineLocked(int64_t now) const;

  const std::string what_;
  const uint64_t total_files_;
  const uint64_t total_bytes_;
  ProgressOptions options_;
  mutable std::mutex mu_;
  int64_t start_ms_;
  int64_t last_report_ms_ = -1;
  uint64_t files_ = 0;
  uint64_t bytes_ = 0;
  bool reported_ = false;
  bool finished_ = false;
};

}  // namespace weir
