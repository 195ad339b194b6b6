#include "common/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "common/clock.h"
#include "common/log.h"

namespace weir {
namespace {

std::string Mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

}  // namespace

ProgressOptions DefaultProgressOptions() {
  ProgressOptions o;
  o.terminal = isatty(STDERR_FILENO) == 1;
  o.interval_ms = o.terminal ? 200 : 10000;
  if (const char* ms = std::getenv("WEIR_PROGRESS_INTERVAL_MS"); ms != nullptr && *ms != '\0') {
    o.interval_ms = std::atoll(ms);
    o.first_report_ms = o.interval_ms;
  }
  return o;
}

Progress::Progress(std::string what, uint64_t total_files, uint64_t total_bytes,
                   ProgressOptions options)
    : what_(std::move(what)),
      total_files_(total_files),
      total_bytes_(total_bytes),
      options_(std::move(options)) {
  if (!options_.now_ms) options_.now_ms = [] { return NowSteadyMs(); };
  if (!options_.write) {
    if (options_.terminal) {
      options_.write = [](std::string_view line) {
        std::fprintf(stderr, "\r%.*s\033[K", static_cast<int>(line.size()), line.data());
        std::fflush(stderr);
      };
    } else {
      options_.write = [](std::string_view line) { LogInfo(line); };
    }
  }
  start_ms_ = options_.now_ms();
}

std::string Progress::LineLocked(int64_t now) const {
  const double seconds = static_cast<double>(std::max<int64_t>(1, now - start_ms_)) / 1e3;
  std::string line = what_ + ": " + std::to_string(files_) + "/" + std::to_string(total_files_) +
                     " files, " + Mib(bytes_) + "/" + Mib(total_bytes_) + " MiB";
  if (total_bytes_ > 0) line += " (" + std::to_string(bytes_ * 100 / total_bytes_) + "%)";
  char rate[32];
  std::snprintf(rate, sizeof(rate), ", %.1f MiB/s",
                static_cast<double>(bytes_) / (1 << 20) / seconds);
  return line + rate;
}

std::string Progress::Line() const {
  std::lock_guard lock(mu_);
  return LineLocked(options_.now_ms());
}

void Progress::Add(uint64_t files, uint64_t bytes) {
  std::string line;
  {
    std::lock_guard lock(mu_);
    files_ += files;
    bytes_ += bytes;
    const int64_t now = options_.now_ms();
    if (finished_ || now - start_ms_ < options_.first_report_ms) return;
    if (last_report_ms_ >= 0 && now - last_report_ms_ < options_.interval_ms) return;
    last_report_ms_ = now;
    reported_ = true;
    line = LineLocked(now);
  }
  options_.write(line);
}

void Progress::Finish() {
  std::string line;
  {
    std::lock_guard lock(mu_);
    if (finished_) return;
    finished_ = true;
    if (!reported_) return;
    line = LineLocked(options_.now_ms()) + " — done";
  }
  options_.write(line);
  if (options_.terminal) std::fprintf(stderr, "\n");
}

}  // namespace weir
