#include "common/failpoint.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace weir {

Failpoints& Failpoints::Instance() {
  static Failpoints* instance = new Failpoints();  // never destroyed: used until _exit
  return *instance;
}

Failpoints::Failpoints() {
  if (const char* spec = std::getenv("WEIR_FAILPOINTS"); spec != nullptr && *spec != '\0') {
    const Status s = SetFromSpec(spec);
    if (!s.ok()) {
      std::fprintf(stderr, "weir: WEIR_FAILPOINTS: %s\n", s.message().c_str());
      std::exit(2);
    }
  }
}

void Failpoints::Set(const std::string& name, FailpointAction action, int fire_on_hit,
                     int sleep_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  points_[name] = Point{action, fire_on_hit, sleep_ms};
  any_set_.store(true, std::memory_order_relaxed);
}

void Failpoints::Clear(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  points_.erase(name);
  any_set_.store(!points_.empty(), std::memory_order_relaxed);
}

void Failpoints::ClearAll() {
  std::lock_guard<std::mutex> lock(mu_);
  points_.clear();
  any_set_.store(false, std::memory_order_relaxed);
}

int Failpoints::Hits(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = points_.find(name);
  return it == points_.end() ? 0 : it->second.hits;
}

Status Failpoints::SetFromSpec(std::string_view spec) {
  while (!spec.empty()) {
    const size_t end = std::min(spec.find(';'), spec.size());
    const std::string entry(spec.substr(0, end));
    spec.remove_prefix(std::min(end + 1, spec.size()));
    if (entry.empty()) continue;
    const size_t eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::InvalidArgument("entry '" + entry + "' is not name=action[@n]");
    }
    const std::string name = entry.substr(0, eq);
    std::string action = entry.substr(eq + 1);
    int fire_on_hit = 0, sleep_ms = 0;
    if (const size_t at = action.find('@'); at != std::string::npos) {
      fire_on_hit = std::atoi(action.c_str() + at + 1);
      action.resize(at);
      if (fire_on_hit < 1) return Status::InvalidArgument("entry '" + entry + "': bad @n");
    }
    if (action == "crash") {
      Set(name, FailpointAction::kCrash, fire_on_hit);
    } else if (action == "error") {
      Set(name, FailpointAction::kError, fire_on_hit);
    } else if (action.rfind("sleep:", 0) == 0) {
      sleep_ms = std::atoi(action.c_str() + 6);
      Set(name, FailpointAction::kSleep, fire_on_hit, sleep_ms);
    } else {
      return Status::InvalidArgument("entry '" + entry +
                                     "': action must be crash, error or sleep:<ms>");
    }
  }
  return Status::OK();
}

Status Failpoints::Hit(std::string_view name) {
  if (!any_set_.load(std::memory_order_relaxed)) return Status::OK();
  Point point{};
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = points_.find(name);
    if (it == points_.end()) return Status::OK();
    ++it->second.hits;
    if (it->second.fire_on_hit != 0 && it->second.hits != it->second.fire_on_hit) {
      return Status::OK();
    }
    point = it->second;
  }
  switch (point.action) {
    case FailpointAction::kCrash:
      std::fprintf(stderr, "weir: failpoint %.*s: crashing\n", static_cast<int>(name.size()),
                   name.data());
      ::kill(::getpid(), SIGKILL);
      ::_exit(137);
    case FailpointAction::kError:
      return Status::IOError("injected failure at failpoint " + std::string(name),
                             /*retryable=*/true);
    case FailpointAction::kSleep:
      std::this_thread::sleep_for(std::chrono::milliseconds(point.sleep_ms));
      return Status::OK();
  }
  return Status::OK();
}

}  // namespace weir
