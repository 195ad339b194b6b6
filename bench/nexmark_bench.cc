// nexmark_bench: Nexmark query 5 ("Hot Items", bench/nexmark/q5_hot_items.h) over the
// Nexmark-style generator, run as a weir job in this process, once per mode (checkpointing off,
// incremental or full or changelog checkpoints every --interval). For each: wall time, events/s,
// the CPU seconds every thread of the process used, and events/s per core = events / CPU seconds
// (Nexmark's "Throughput/Cores": events over cores × time), beside the figure the Nexmark project
// publishes for Flink on the same query; then whether the committed output is exactly the answer
// computed directly from the generated events. Printed, never asserted.
//
//   nexmark_bench [--events N] [--tps T] [--parallelism P] [--interval 1s]
//                 [--modes off,incremental] [--set key=value ...] [--no-check] [--dir D]
//                 [--json FILE] [--quick]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "q5_hot_items.h"
#include "runtime/job_runtime.h"
#include "state/changelog/changelog_options.h"
#include "testing/output_oracle.h"
#include "thread_cpu.h"

namespace {

using namespace weir;

// Nexmark's published result for Flink on q5 (github.com/nexmark/nexmark, README, "Benchmark
// Results"): Flink 1.13; 3 worker machines of 8 cores and 32 GB with SSDs; 8 TaskManagers of one
// slot, parallelism 8; RocksDB with incremental checkpoints every 3 minutes; 100M events
// generated at 10M/s; 10.8 cores busy for 418.242 s.
constexpr double kFlinkQ5PerCore = 22'140;

struct Args {
  uint64_t events = 10'000'000;
  int64_t tps = 10'000'000;
  int parallelism = 2;
  std::string interval = "1s";
  std::string modes = "off,incremental";
  std::string dir = "/tmp/weir-nexmark-bench";
  std::string json;
  bool check = true;
  std::vector<std::pair<std::string, std::string>> settings;
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    const auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (k == "--events")
      a.events = std::stoull(next());
    else if (k == "--tps")
      a.tps = std::stoll(next());
    else if (k == "--parallelism")
      a.parallelism = std::stoi(next());
    else if (k == "--interval")
      a.interval = next();
    else if (k == "--modes")
      a.modes = next();
    else if (k == "--dir")
      a.dir = next();
    else if (k == "--json")
      a.json = next();
    else if (k == "--no-check")
      a.check = false;
    else if (k == "--set")
      a.settings.push_back(bench::ParseSetting("nexmark_bench", next()));
    else if (k == "--quick")
      a.events = 1'000'000, a.interval = "500ms";
    else {
      std::fprintf(stderr, "nexmark_bench: unknown argument %s\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

using bench::Percentile;

void Set(Configuration& c, std::string_view key, const std::string& value) {
  bench::Check("nexmark_bench", c.Set(key, value), "setting " + std::string(key));
}

nlohmann::json RunMode(const Args& a, const std::string& mode,
                       const std::map<std::string, int>* reference) {
  namespace fs = std::filesystem;
  fs::remove_all(a.dir);
  nexmark::Q5Options options;
  options.events = a.events;
  options.generator.tps = a.tps;
  options.output = a.dir + "/out";
  auto graph = nexmark::BuildQ5(options);
  bench::Check("nexmark_bench", graph.status(), "building q5");
  Configuration c;
  Set(c, config::kParallelism, std::to_string(a.parallelism));
  Set(c, config::kLocalDir, a.dir + "/local");
  Set(c, config::kRestartStrategy, "none");
  Set(c, config::kStatsHistory, "100000");
  if (mode != "off") {
    Set(c, config::kInterval, a.interval);
    Set(c, config::kCheckpointsDir, a.dir + "/checkpoints");
    Set(c, config::kIncremental, mode == "full" ? "false" : "true");
    if (mode == "changelog") Set(c, config::kChangelogEnabled, "true");
  }
  for (const auto& [key, value] : a.settings) Set(c, key, value);
  auto job = JobRuntime::Create(std::move(graph).value(), c);
  bench::Check("nexmark_bench", job.status(), "creating the job");
  bench::ThreadCpuSampler cpu;
  cpu.Start();
  const auto start = bench::Clock::now();
  const JobResult result = (*job)->Run();
  const double wall = bench::Seconds(start);
  const std::map<std::string, double> cpu_by_thread = cpu.Stop();
  bench::Check("nexmark_bench", result.status, mode + " run");
  double cpu_s = 0;
  for (const auto& [name, used] : cpu_by_thread) cpu_s += used;
  std::vector<double> durations;
  for (const auto& cp : (*job)->completed_checkpoints()) {
    durations.push_back(static_cast<double>(cp.duration_ms(cp.end_unix_ms)));
  }
  const std::map<std::string, int> committed = testing::CommittedLines(options.output);
  const char* answer = reference == nullptr      ? "not checked"
                       : committed == *reference ? "yes"
                                                 : "NO";
  const double events = static_cast<double>(a.events);
  std::printf("%-12s %8.2f %11.0f %8.1f %11.0f %9.2fx %6zu %8.0f %8.0f %7zu %s\n", mode.c_str(),
              wall, events / wall, cpu_s, events / cpu_s, events / cpu_s / kFlinkQ5PerCore,
              durations.size(), Percentile(durations, 0.5), Percentile(durations, 0.99),
              committed.size(), answer);
  std::fflush(stdout);
  fs::remove_all(a.dir);
  return {{"query", "q5"},
          {"mode", mode},
          {"interval", mode == "off" ? "" : a.interval},
          {"events", a.events},
          {"tps", a.tps},
          {"parallelism", a.parallelism},
          {"cores", std::thread::hardware_concurrency()},
          {"wall_s", wall},
          {"events_per_s", events / wall},
          {"cpu_s", cpu_s},
          {"cpu_s_by_thread", cpu_by_thread},
          {"events_per_s_per_core", events / cpu_s},
          {"flink_events_per_s_per_core", kFlinkQ5PerCore},
          {"checkpoints", durations.size()},
          {"duration_p50_ms", Percentile(durations, 0.5)},
          {"duration_p99_ms", Percentile(durations, 0.99)},
          {"output_lines", committed.size()},
          {"answer", answer}};
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = Parse(argc, argv);
  std::printf(
      "nexmark q5 (hot items: sliding 10 s windows every 2 s): %llu events at %lld events/s of "
      "event time, parallelism %d, %u cores, checkpoint interval %s\n",
      static_cast<unsigned long long>(a.events), static_cast<long long>(a.tps), a.parallelism,
      std::thread::hardware_concurrency(), a.interval.c_str());
  std::map<std::string, int> reference;
  if (a.check) {
    nexmark::Q5Options options;
    options.events = a.events;
    options.generator.tps = a.tps;
    reference = nexmark::Q5ReferenceAnswer(options);
  }
  std::printf("%-12s %8s %11s %8s %11s %10s %6s %8s %8s %7s %s\n", "checkpoints", "wall s",
              "events/s", "cpu s", "ev/s/core", "vs Flink", "count", "dur p50", "dur p99", "lines",
              "exact answer");
  nlohmann::json rows = nlohmann::json::array();
  std::stringstream modes(a.modes);
  for (std::string mode; std::getline(modes, mode, ',');) {
    rows.push_back(RunMode(a, mode, a.check ? &reference : nullptr));
  }
  std::printf(
      "Flink (Nexmark's published q5: Flink 1.13, 3 x 8-core 32 GB workers, parallelism 8, RocksDB "
      "incremental checkpoints every 3 min, 100M events): %.2f K events/s per core\n",
      kFlinkQ5PerCore / 1000.0);
  if (!a.json.empty()) std::ofstream(a.json) << rows.dump(2) << "\n";
  return 0;
}
