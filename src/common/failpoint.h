// Failpoints: named points in the checkpoint and restore code where a test makes the process
// crash (SIGKILL, as `kill -9` would), return an error, or sleep.
//
// Compiled into every build. When no failpoint is set, Hit() costs one relaxed atomic load.
// Set them from a test (Failpoints::Instance().Set) or, for a whole process, with the
// environment variable WEIR_FAILPOINTS, read once at start:
//
//   WEIR_FAILPOINTS="incremental.after_upload=crash@3;checkpoint.before_metadata=error"
//
// Each entry is name=action[@n]: action is crash, error or sleep:<ms>; @n fires on the n-th hit
// only (default: every hit). Names are listed in docs/failpoints.md.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "weir/status.h"

namespace weir {

enum class FailpointAction { kCrash, kError, kSleep };

class Failpoints {
 public:
  static Failpoints& Instance();

  // `fire_on_hit` 0 fires on every hit; n fires on the n-th hit only.
  void Set(const std::string& name, FailpointAction action, int fire_on_hit = 0, int sleep_ms = 0);
  void Clear(const std::string& name);
  void ClearAll();
  // Parses the WEIR_FAILPOINTS syntax; InvalidArgument names the bad entry.
  Status SetFromSpec(std::string_view spec);
  // How often `name` was reached since it was set.
  int Hits(const std::string& name);

  // Called at the point `name`: crashes, returns an injected IOError, sleeps, or returns OK.
  Status Hit(std::string_view name);

 private:
  Failpoints();
  struct Point {
    FailpointAction action;
    int fire_on_hit;
    int sleep_ms;
    int hits = 0;
  };
  std::atomic<bool> any_set_{false};
  std::mutex mu_;
  std::map<std::string, Point, std::less<>> points_;
};

}  // namespace weir

// Returns the injected error from the enclosing function when failpoint `name` fires.
#define WEIR_FAILPOINT(name) WEIR_RETURN_IF_ERROR(::weir::Failpoints::Instance().Hit(name))
