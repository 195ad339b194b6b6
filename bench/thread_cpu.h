// ThreadCpuSampler: CPU seconds (user + system) that this process's threads used between Start()
// and Stop(), summed per thread name with any "#<subtask>" cut off ("task:aggregate",
// "rocksdb:low", "weir-io", …). Read from /proc/self/task/<tid>/stat every 100 ms, because a
// thread that ends takes its counters with it: a thread that ends loses at most its last 100 ms.
// Benchmarks only.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

namespace weir::bench {

class ThreadCpuSampler {
 public:
  void Start() {
    baseline_ = Read();
    last_ = baseline_;
    stop_ = false;
    thread_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stop_; })) {
        lock.unlock();
        Merge(Read());
        lock.lock();
      }
    });
  }

  // Seconds per thread name since Start().
  std::map<std::string, double> Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    Merge(Read());
    std::map<std::string, double> by_name;
    for (const auto& [tid, sample] : last_) {
      const auto base = baseline_.find(tid);
      const double before = base == baseline_.end() ? 0 : base->second.seconds;
      const double used = sample.seconds - before;
      if (used > 0) by_name[sample.name] += used;
    }
    return by_name;
  }

 private:
  struct Sample {
    std::string name;
    double seconds = 0;
  };

  static std::map<int, Sample> Read() {
    static const double kTicks = static_cast<double>(sysconf(_SC_CLK_TCK));
    std::map<int, Sample> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/task", ec)) {
      std::ifstream in(e.path() / "stat");
      std::string line;
      if (!std::getline(in, line)) continue;  // the thread just ended
      const size_t open = line.find('('), close = line.rfind(')');
      if (open == std::string::npos || close == std::string::npos) continue;
      std::string name = line.substr(open + 1, close - open - 1);
      if (const size_t hash = name.rfind('#'); hash != std::string::npos) name.resize(hash);
      // After "(comm) ": state is field 3; utime and stime are fields 14 and 15.
      std::istringstream fields(line.substr(close + 2));
      std::string skip;
      for (int field = 3; field < 14; ++field) fields >> skip;
      double utime = 0, stime = 0;
      fields >> utime >> stime;
      out[std::stoi(e.path().filename().string())] = {name, (utime + stime) / kTicks};
    }
    return out;
  }

  void Merge(const std::map<int, Sample>& now) {
    std::lock_guard<std::mutex> lock(last_mu_);
    for (const auto& [tid, s] : now) last_[tid] = s;
  }

  std::map<int, Sample> baseline_, last_;
  std::mutex mu_, last_mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace weir::bench
