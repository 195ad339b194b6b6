// runtime_bench: keyed-aggregate end to end, in one run: events/s with checkpointing off, with
// full, incremental or changelog checkpoints every --interval; for each the synchronous
// pause per checkpoint (max and p99 over the tasks' longest pause of each checkpoint) and the
// end-to-end checkpoint duration (p50, p99). With --rate R the generator is paced at R events/s
// and each mode also reports the event latency (creation in the generator to processing by the
// aggregate, every 16th event: p50, p99, max). With --recovery the program instead builds a
// state of N keys, ends the job with a final checkpoint (full, incremental, then changelog with
// each of --materialize-intervals while checkpointing every second: its final checkpoint holds
// the latest materialization and the log since), and times a restore from it as `weir run -s`
// does: from creating the job to the first record the restored aggregate processes. Every job run
// also reports the CPU seconds its threads used, by thread name (tasks, RocksDB's flushes and
// compactions, the upload pool). --set key=value (repeatable) sets any configuration key of the
// job. Printed, never asserted.
//
//   runtime_bench [--events M] [--keys N] [--payload-bytes B] [--parallelism P]
//                 [--interval 1s] [--modes off,full,incremental,changelog] [--rate R] [--recovery]
//                 [--materialize-intervals 1s,2s,1h] [--recovery-kinds full,incremental,changelog]
//                 [--restores N]
//                 [--set key=value ...] [--dir D] [--json FILE] [--quick]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "bundled_jobs.h"
#include "checkpoint/checkpoint_metadata.h"
#include "runtime/job_runtime.h"
#include "state/changelog/changelog_options.h"
#include "thread_cpu.h"

namespace {

using namespace weir;

using bench::Percentile;

struct Args {
  uint64_t events = 3000000;
  uint64_t keys = 300000;
  uint64_t payload_bytes = 100;
  int parallelism = 2;
  std::string interval = "1s";
  std::string dir = "/tmp/weir-runtime-bench";
  std::string modes = "off,full,incremental";
  std::string json;
  int64_t rate = 0;
  bool recovery = false;
  // Recovery: changelog checkpoints with each of these materialization intervals too.
  std::string materialize_intervals = "1s,2s,1h";
  // Recovery: the kinds of checkpoint restored, and how often each built checkpoint is restored
  // (each time into a fresh directory; the figures are the medians).
  std::string recovery_kinds = "full,incremental,changelog";
  int restores = 1;
  std::vector<std::pair<std::string, std::string>> settings;  // --set key=value
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    const auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (k == "--events")
      a.events = std::stoull(next());
    else if (k == "--keys")
      a.keys = std::stoull(next());
    else if (k == "--payload-bytes")
      a.payload_bytes = std::stoull(next());
    else if (k == "--parallelism")
      a.parallelism = std::stoi(next());
    else if (k == "--interval")
      a.interval = next();
    else if (k == "--dir")
      a.dir = next();
    else if (k == "--modes")
      a.modes = next();
    else if (k == "--json")
      a.json = next();
    else if (k == "--rate")
      a.rate = std::stoll(next());
    else if (k == "--recovery")
      a.recovery = true;
    else if (k == "--materialize-intervals")
      a.materialize_intervals = next();
    else if (k == "--recovery-kinds")
      a.recovery_kinds = next();
    else if (k == "--restores")
      a.restores = std::max(1, std::stoi(next()));
    else if (k == "--set")
      a.settings.push_back(bench::ParseSetting("runtime_bench", next()));
    else if (k == "--quick")
      a.events = 400000, a.keys = 50000, a.interval = "200ms";
    else {
      std::fprintf(stderr, "unknown argument %s\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

nlohmann::json g_rows = nlohmann::json::array();

void SetOrExit(Configuration& config, std::string_view key, const std::string& value) {
  if (Status s = config.Set(key, value); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    std::exit(1);
  }
}

// What every run of the job shares: parallelism, its local directory, no restarts.
Configuration BaseConfig(const Args& a, const std::string& local_dir) {
  Configuration config;
  SetOrExit(config, config::kParallelism, std::to_string(a.parallelism));
  SetOrExit(config, config::kLocalDir, local_dir);
  SetOrExit(config, config::kRestartStrategy, "none");
  // Every checkpoint of the run counts in the figures: keep them all in the statistics.
  SetOrExit(config, config::kStatsHistory, "100000");
  for (const auto& [key, value] : a.settings) SetOrExit(config, key, value);
  return config;
}

void RunMode(const Args& a, const std::string& mode) {
  namespace fs = std::filesystem;
  fs::remove_all(a.dir);
  Configuration config = BaseConfig(a, a.dir + "/local");
  if (mode != "off") {
    SetOrExit(config, config::kInterval, a.interval);
    SetOrExit(config, config::kCheckpointsDir, a.dir + "/checkpoints");
    SetOrExit(config, config::kIncremental, mode == "incremental" ? "true" : "false");
    if (mode == "changelog") SetOrExit(config, config::kChangelogEnabled, "true");
  }
  auto graph = examples::BuildKeyedAggregate({"--events", std::to_string(a.events), "--keys",
                                              std::to_string(a.keys), "--payload-bytes",
                                              std::to_string(a.payload_bytes), "--rate",
                                              std::to_string(a.rate), "--output", a.dir + "/out"});
  auto job = JobRuntime::Create(std::move(graph).value(), config);
  if (!job.ok()) {
    std::fprintf(stderr, "%s\n", job.status().ToString().c_str());
    std::exit(1);
  }
  examples::KeyedAggregateProbe::Reset();
  bench::ThreadCpuSampler cpu;
  cpu.Start();
  const auto start = std::chrono::steady_clock::now();
  const JobResult result = (*job)->Run();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::map<std::string, double> cpu_s = cpu.Stop();
  if (result.outcome != JobOutcome::kFinished) {
    std::fprintf(stderr, "%s: job failed: %s\n", mode.c_str(), result.status.ToString().c_str());
    std::exit(1);
  }
  std::vector<double> pauses, backend_pauses, durations, barrier_delays, asyncs;
  double written = 0, full = 0;
  for (const auto& c : (*job)->completed_checkpoints()) {
    // Where the duration goes: the barrier's travel to the last task it reaches, and the
    // longest asynchronous part.
    int64_t last_barrier = c.trigger_unix_ms;
    for (const auto& s : c.subtasks) last_barrier = std::max(last_barrier, s.barrier_unix_ms);
    barrier_delays.push_back(static_cast<double>(last_barrier - c.trigger_unix_ms));
    asyncs.push_back(static_cast<double>(c.max_async_duration_us()) / 1000.0);
    pauses.push_back(static_cast<double>(c.max_sync_duration_us()) / 1000.0);
    backend_pauses.push_back(static_cast<double>(c.max_backend_sync_duration_us()) / 1000.0);
    durations.push_back(static_cast<double>(c.duration_ms(c.end_unix_ms)));
    written += static_cast<double>(c.checkpointed_bytes);
    full += static_cast<double>(c.full_bytes);
  }
  const double n = static_cast<double>(std::max<size_t>(1, pauses.size()));
  std::vector<double> latencies = examples::KeyedAggregateProbe::LatenciesUs();
  for (double& l : latencies) l /= 1000.0;
  std::printf("%-12s %8.2f %12.0f %6zu %9.2f %9.2f %9.0f %9.0f %11.1f %11.1f %9.2f %9.2f\n",
              mode.c_str(), seconds, static_cast<double>(a.events) / seconds, pauses.size(),
              pauses.empty() ? 0 : *std::max_element(pauses.begin(), pauses.end()),
              Percentile(pauses, 0.99), Percentile(durations, 0.5), Percentile(durations, 0.99),
              written / n / 1048576.0, full / n / 1048576.0, Percentile(latencies, 0.5),
              Percentile(latencies, 0.99));
  std::string cpu_line;
  double cpu_total = 0;
  for (const auto& [name, used] : cpu_s) {
    cpu_total += used;
    char part[64];
    std::snprintf(part, sizeof(part), " %s %.1f", name.c_str(), used);
    cpu_line += part;
  }
  if (!durations.empty()) {
    std::printf(
        "%-12s duration parts: last barrier after p50 %.0f p99 %.0f ms, async part p50 "
        "%.0f p99 %.0f ms\n",
        "", Percentile(barrier_delays, 0.5), Percentile(barrier_delays, 0.99),
        Percentile(asyncs, 0.5), Percentile(asyncs, 0.99));
  }
  std::printf("%-12s cpu s: total %.1f of %.1f (%d cores):%s\n", "", cpu_total,
              seconds * std::thread::hardware_concurrency(), std::thread::hardware_concurrency(),
              cpu_line.c_str());
  std::fflush(stdout);
  nlohmann::json settings = nlohmann::json::object();
  for (const auto& [key, value] : a.settings) settings[key] = value;
  g_rows.push_back(
      {{"mode", mode},
       {"settings", settings},
       {"cpu_s", cpu_s},
       {"cores", std::thread::hardware_concurrency()},
       {"interval", mode == "off" ? "" : a.interval},
       {"parallelism", a.parallelism},
       {"events", a.events},
       {"keys", a.keys},
       {"wall_s", seconds},
       {"events_per_s", static_cast<double>(a.events) / seconds},
       {"checkpoints", pauses.size()},
       {"pause_max_ms", pauses.empty() ? 0 : *std::max_element(pauses.begin(), pauses.end())},
       {"pause_p99_ms", Percentile(pauses, 0.99)},
       {"backend_pause_p99_ms", Percentile(backend_pauses, 0.99)},
       {"backend_pause_max_ms",
        backend_pauses.empty() ? 0
                               : *std::max_element(backend_pauses.begin(), backend_pauses.end())},
       // Each checkpoint's, in order: the report pools the runs of a setting (a run's p99 over
       // fewer than 100 checkpoints is its maximum).
       {"backend_pauses_ms", backend_pauses},
       {"duration_p50_ms", Percentile(durations, 0.5)},
       {"duration_p99_ms", Percentile(durations, 0.99)},
       {"barrier_delay_p50_ms", Percentile(barrier_delays, 0.5)},
       {"barrier_delay_p99_ms", Percentile(barrier_delays, 0.99)},
       {"async_p50_ms", Percentile(asyncs, 0.5)},
       {"async_p99_ms", Percentile(asyncs, 0.99)},
       {"written_mib_per_checkpoint", written / n / 1048576.0},
       {"full_mib_per_checkpoint", full / n / 1048576.0},
       {"rate", a.rate},
       {"latency_p50_ms", Percentile(latencies, 0.5)},
       {"latency_p99_ms", Percentile(latencies, 0.99)},
       {"latency_max_ms",
        latencies.empty() ? 0.0 : *std::max_element(latencies.begin(), latencies.end())}});
  fs::remove_all(a.dir);
}

// Runs keyed-aggregate over `events` events; restores from `restore_path` when given. Returns
// the job's checkpoint storage's latest checkpoint directory (when checkpointing) and the time
// from creating the job to the first processed record.
struct Ran {
  std::string latest_checkpoint;
  double first_record_ms = 0;
  double restore_ms = 0;
};
// `kind`: full, incremental, or changelog (materializing every `materialize` while it
// checkpoints every second, so that its final checkpoint holds a materialization and the log
// written since).
Ran RunJob(const Args& a, uint64_t events, const std::string& kind, const std::string& materialize,
           const std::string& job_dir, const std::string& restore_path) {
  Configuration config = BaseConfig(a, job_dir + "/local");
  // Full and incremental: only the final checkpoint at the end of the input.
  SetOrExit(config, config::kInterval, kind == "changelog" ? "1s" : "1h");
  SetOrExit(config, config::kCheckpointsDir, job_dir + "/checkpoints");
  SetOrExit(config, config::kIncremental, kind == "full" ? "false" : "true");
  if (kind == "changelog") {
    SetOrExit(config, config::kChangelogEnabled, "true");
    SetOrExit(config, config::kChangelogMaterializeInterval, materialize);
  }
  if (!restore_path.empty()) SetOrExit(config, config::kSavepointPath, restore_path);
  auto graph = examples::BuildKeyedAggregate(
      {"--events", std::to_string(events), "--keys", std::to_string(a.keys), "--payload-bytes",
       std::to_string(a.payload_bytes), "--output", a.dir + "/out"});  // the sink resumes its files
  examples::KeyedAggregateProbe::Reset();
  const auto start = std::chrono::steady_clock::now();
  auto job = JobRuntime::Create(std::move(graph).value(), config);
  if (!job.ok()) {
    std::fprintf(stderr, "%s\n", job.status().ToString().c_str());
    std::exit(1);
  }
  const JobResult result = (*job)->Run();
  if (result.outcome != JobOutcome::kFinished) {
    std::fprintf(stderr, "recovery (%s): job failed: %s\n", kind.c_str(),
                 result.status.ToString().c_str());
    std::exit(1);
  }
  Ran ran;
  if (auto first = examples::KeyedAggregateProbe::FirstEvent()) {
    ran.first_record_ms = std::chrono::duration<double, std::milli>(*first - start).count();
  }
  const auto stats = (*job)->checkpoint_stats();
  if (stats && stats->latest_restore) {
    ran.restore_ms = static_cast<double>(stats->latest_restore->duration_ms);
  }
  const auto retained = (*job)->retained_checkpoints();
  if (!retained.empty()) {
    ran.latest_checkpoint =
        (*job)->checkpoint_storage()->CheckpointDir(retained.back().checkpoint_id);
  }
  return ran;
}

// The bytes of log segments a checkpoint's restore replays.
uint64_t LogBytes(const std::string& checkpoint_dir) {
  auto fs = NewPosixFileSystem();
  auto m = ReadCheckpointMetadata(*fs, checkpoint_dir + "/_metadata");
  uint64_t bytes = 0;
  if (!m.ok()) return 0;
  for (const auto& b : m->backends) {
    for (const auto& seg : b.changelog) bytes += seg.length;
  }
  return bytes;
}

void RunRecovery(const Args& a) {
  namespace fs = std::filesystem;
  std::printf("%-24s %12s %12s %14s %16s\n", "checkpoint", "state MiB", "log MiB", "restore ms",
              "first record ms");
  std::vector<std::pair<std::string, std::string>> kinds;
  std::stringstream wanted(a.recovery_kinds);
  for (std::string kind; std::getline(wanted, kind, ',');) {
    if (kind != "changelog") {
      kinds.emplace_back(kind, "");
      continue;
    }
    std::stringstream intervals(a.materialize_intervals);
    for (std::string m; std::getline(intervals, m, ',');) kinds.emplace_back("changelog", m);
  }
  for (const auto& [kind, materialize] : kinds) {
    fs::remove_all(a.dir);
    // Every key once (the state's full size), then a restore that processes 100k more events.
    const Ran built = RunJob(a, a.keys, kind, materialize, a.dir + "/build", "");
    if (built.latest_checkpoint.empty()) {
      std::fprintf(stderr, "recovery (%s): no checkpoint was retained\n", kind.c_str());
      std::exit(1);
    }
    uint64_t state_bytes = 0;
    for (const auto& e : fs::recursive_directory_iterator(a.dir + "/build/checkpoints")) {
      if (e.is_regular_file()) state_bytes += e.file_size();
    }
    const uint64_t log_bytes = LogBytes(built.latest_checkpoint);
    std::vector<double> restore_ms, first_record_ms;
    // Each restore resumes the sink's files as the build left them.
    fs::copy(a.dir + "/out", a.dir + "/out.built", fs::copy_options::recursive);
    for (int i = 0; i < a.restores; ++i) {
      fs::remove_all(a.dir + "/restore");
      fs::remove_all(a.dir + "/out");
      fs::copy(a.dir + "/out.built", a.dir + "/out", fs::copy_options::recursive);
      const Ran restored = RunJob(a, a.keys + 100000, kind, materialize, a.dir + "/restore",
                                  built.latest_checkpoint);
      restore_ms.push_back(restored.restore_ms);
      first_record_ms.push_back(restored.first_record_ms);
    }
    const std::string name =
        kind == "changelog" ? "changelog, materialize " + materialize : std::string(kind);
    std::printf("%-24s %12.1f %12.1f %14.0f %16.0f\n", name.c_str(),
                static_cast<double>(state_bytes) / 1048576.0,
                static_cast<double>(log_bytes) / 1048576.0, Percentile(restore_ms, 0.5),
                Percentile(first_record_ms, 0.5));
    std::fflush(stdout);
    g_rows.push_back({{"mode", "recovery"},
                      {"kind", kind},
                      {"materialize_interval", materialize},
                      {"log_bytes", log_bytes},
                      {"keys", a.keys},
                      {"parallelism", a.parallelism},
                      {"checkpoint_bytes", state_bytes},
                      {"restore_ms", Percentile(restore_ms, 0.5)},
                      {"first_record_ms", Percentile(first_record_ms, 0.5)},
                      {"restores_ms", restore_ms},
                      {"first_records_ms", first_record_ms}});
  }
  fs::remove_all(a.dir);
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = Parse(argc, argv);
  if (a.recovery) {
    std::printf("keyed-aggregate recovery: %llu keys, %llu payload bytes per key, parallelism %d\n",
                static_cast<unsigned long long>(a.keys),
                static_cast<unsigned long long>(a.payload_bytes), a.parallelism);
    RunRecovery(a);
    if (!a.json.empty()) std::ofstream(a.json) << g_rows.dump(2) << "\n";
    return 0;
  }
  std::printf(
      "keyed-aggregate: %llu events over %llu keys, %llu payload bytes per key, "
      "parallelism %d, checkpoint interval %s\n",
      static_cast<unsigned long long>(a.events), static_cast<unsigned long long>(a.keys),
      static_cast<unsigned long long>(a.payload_bytes), a.parallelism, a.interval.c_str());
  std::printf("%-12s %8s %12s %6s %9s %9s %9s %9s %11s %11s %9s %9s\n", "checkpoints", "wall s",
              "events/s", "count", "pause max", "pause p99", "dur p50", "dur p99", "MiB written",
              "MiB full", "lat p50", "lat p99");
  std::printf("%-12s %8s %12s %6s %9s %9s %9s %9s %11s %11s %9s %9s\n", "", "", "", "", "ms", "ms",
              "ms", "ms", "per ckpt", "per ckpt", "ms", "ms");
  std::stringstream modes(a.modes);
  for (std::string mode; std::getline(modes, mode, ',');) RunMode(a, mode);
  if (!a.json.empty()) std::ofstream(a.json) << g_rows.dump(2) << "\n";
  return 0;
}
