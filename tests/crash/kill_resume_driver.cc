// kill_resume_driver: the long crash test of `weir run`. Runs keyed-aggregate and
// wordcount as a user would, kills each run with SIGKILL at a random moment or makes it crash at
// a random failpoint (WEIR_FAILPOINTS=name=crash@n; full, incremental and changelog
// checkpoints, the changelog's own steps among the failpoints), resumes with `weir run -s <latest completed
// checkpoint>`, repeats, then lets the job finish and checks: the committed output is
// exactly-once (every key's counts 1..final once each, final sums exact), `weir checkpoints
// verify` is healthy, and after `gc --grace 0 --delete` no orphan is left.
//
//   kill_resume_driver [--cycles N] [--seed S] [--cycles-per-scenario K] [--weir PATH] [--quiet]
//
// Seeded and reproducible: a failing scenario prints every command it ran (with its
// WEIR_FAILPOINTS), and the seed that reruns it. A third of the cycles also simulate a power loss
// after the kill: the run journals its file operations (WEIR_POWER_LOSS_JOURNAL) and the driver
// drops what was not synced (io/journaling_file_system.h). The summary states cycles run, failures,
// and records lost and duplicated. Exit code 1 if anything failed.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "io/journaling_file_system.h"
#include "testing/output_oracle.h"
#include "testing/temp_dir.h"
#include "weir_process.h"

namespace {

using namespace weir;
using e2e::RunWeir;
using e2e::WeirOutput;

const std::vector<std::string> kFailpoints = {"coordinator.trigger",
                                              "task.ack",
                                              "task.snapshot",
                                              "task.backend_snapshot",
                                              "incremental.upload",
                                              "incremental.after_uploads",
                                              "changelog.persist",
                                              "changelog.after_persist",
                                              "changelog.checkpoint_persisted",
                                              "changelog.materialize",
                                              "changelog.after_materialize",
                                              "changelog.truncate",
                                              "checkpoint.before_metadata",
                                              "checkpoint.after_metadata",
                                              "checkpoint.after_register",
                                              "cleaner.before_delete_metadata",
                                              "cleaner.before_delete_checkpoint_dir",
                                              "cleaner.before_delete_shared",
                                              "sink.commit",
                                              "restore.fetch",
                                              "restore.before_open"};

struct Totals {
  int cycles = 0;
  int concurrent_cycles = 0;  // with max-concurrent-checkpoints > 1
  int kills = 0;
  int failpoint_crashes = 0;
  int power_losses = 0;
  int scenarios = 0;
  int failures = 0;
  int64_t lost = 0;
  int64_t duplicated = 0;
};

std::string Latest(const std::string& dir) {
  auto listed = nlohmann::json::parse(WeirOutput("checkpoints list --json " + dir), nullptr, false);
  std::string path;
  uint64_t best = 0;
  if (!listed.is_array()) return path;
  for (const auto& c : listed) {
    if (c["id"].get<uint64_t>() >= best) {
      best = c["id"].get<uint64_t>();
      path = c["path"].get<std::string>();
    }
  }
  return path;
}

// One job, run and crashed `cycles` times, then finished and checked. Returns false on failure.
bool Scenario(uint64_t seed, int cycles, bool quiet, Totals* totals) {
  std::mt19937_64 rng(seed);
  const bool wordcount = rng() % 3 == 0;
  const int parallelism = std::vector<int>{1, 2, 4}[rng() % 3];
  const bool incremental = rng() % 2 == 0;
  testing::TempDir tmp;
  std::vector<std::string> job_args;
  std::map<std::string, testing::KeyTotals> expected;
  if (wordcount) {
    std::filesystem::create_directories(tmp.Sub("in"));
    std::vector<std::string> lines;
    // Long enough that most cycles end in a kill or crash, not in the job's end.
    for (int f = 0; f < 3; ++f) {
      std::ofstream file(tmp.Sub("in/text-" + std::to_string(f)));
      for (int i = 0; i < 5000 * cycles; ++i) {
        std::string line;
        for (int w = 0; w < 8; ++w) line += "w" + std::to_string(rng() % 1000) + " ";
        file << line << "\n";
        lines.push_back(line);
      }
    }
    job_args = {"wordcount", "--input", tmp.Sub("in"), "--output", tmp.Sub("out")};
    expected = testing::WordCountTotals(lines);
  } else {
    const uint64_t events = 15000 * static_cast<uint64_t>(cycles + 2) + rng() % 20000;
    const uint64_t keys = 500 + rng() % 3000;
    job_args = {"keyed-aggregate", "--events",           std::to_string(events),
                "--keys",          std::to_string(keys), "--rate",
                "30000",           "--payload-bytes",    "32",
                "--output",        tmp.Sub("out")};
    expected = testing::KeyedAggregateTotals(events, keys);
  }
  // Checkpoints in flight together: a pending checkpoint must keep what it builds on.
  const int max_concurrent = 1 + static_cast<int>(rng() % 4);
  // Full checkpoints run on either backend; incremental ones are RocksDB's.
  const bool hashmap = !incremental && (seed / 7) % 2 == 0;
  // A third of the scenarios take changelog checkpoints (over either backend), materializing
  // every few checkpoints.
  const bool changelog = seed % 3 == 0;
  const std::vector<std::string> options = {
      "-D", "execution.checkpointing.interval=" + std::to_string(50 + rng() % 150) + "ms",
      "-D", "state.checkpoints.dir=" + tmp.Sub("checkpoints"),
      "-D", "state.checkpoints.num-retained=" + std::to_string(1 + rng() % 3),
      "-D", "execution.checkpointing.max-concurrent-checkpoints=" + std::to_string(max_concurrent),
      "-D", "state.backend.rocksdb.localdir=" + tmp.Sub("local"),
      "-D", "restart-strategy=none",
      "-D", "parallelism.default=" + std::to_string(parallelism),
      "-D", std::string("state.backend.incremental=") + (incremental ? "true" : "false"),
      "-D", std::string("state.backend.type=") + (hashmap ? "hashmap" : "rocksdb"),
      "-D", std::string("state.backend.changelog.enabled=") + (changelog ? "true" : "false"),
      "-D", "state.backend.changelog.periodic-materialize.interval=" +
                std::to_string(100 + (seed * 37) % 500) + "ms"};
  std::string log;
  std::string latest;
  const auto command = [&](const std::string& failpoints) {
    std::vector<std::string> args = {"run"};
    if (!latest.empty()) args.insert(args.end(), {"-s", latest});
    args.insert(args.end(), options.begin(), options.end());
    args.insert(args.end(), job_args.begin(), job_args.end());
    std::string line = failpoints.empty() ? "" : "WEIR_FAILPOINTS='" + failpoints + "' ";
    line += e2e::WeirBinary();
    for (const auto& a : args) line += " " + a;
    log += line + "\n";
    return args;
  };
  const auto fail = [&](const std::string& why) {
    std::printf("FAILED scenario seed %llu: %s\ncommands:\n%s\n",
                static_cast<unsigned long long>(seed), why.c_str(), log.c_str());
    ++totals->failures;
    return false;
  };
  for (int c = 0; c < cycles; ++c) {
    std::string failpoints;
    // A random kill time; with a failpoint it is the backstop should the point not be reached.
    const int kill_after = 150 + static_cast<int>(rng() % 900);
    if (rng() % 2 == 0) {
      failpoints =
          kFailpoints[rng() % kFailpoints.size()] + "=crash@" + std::to_string(1 + rng() % 3);
    }
    // A third of the cycles also cut the power: what was not synced when the process died is
    // dropped from its checkpoints and output (replayed from its file operation journal).
    const bool power_loss = rng() % 3 == 0;
    const std::string journal = tmp.Sub("journal-" + std::to_string(c));
    const auto args = command(failpoints);
    log += "  (killed after " + std::to_string(kill_after) + " ms unless it ends first" +
           (power_loss ? "; then power loss, WEIR_POWER_LOSS_JOURNAL=" + journal : "") + ")\n";
    if (failpoints.empty())
      unsetenv("WEIR_FAILPOINTS");
    else
      setenv("WEIR_FAILPOINTS", failpoints.c_str(), 1);
    if (power_loss) setenv("WEIR_POWER_LOSS_JOURNAL", journal.c_str(), 1);
    const auto r = RunWeir(args, kill_after, tmp.Sub("stderr.txt"));
    unsetenv("WEIR_FAILPOINTS");
    unsetenv("WEIR_POWER_LOSS_JOURNAL");
    // No journal: the run was killed before it opened one, so before it wrote anything (it opens
    // the journal before the job touches a file) and there is nothing unsynced to drop.
    if (power_loss && (r.killed || r.crashed) && std::filesystem::exists(journal)) {
      if (Status s = SimulatePowerLoss(journal, *NewPosixFileSystem()); !s.ok()) {
        return fail("power loss simulation failed: " + s.ToString());
      }
      ++totals->power_losses;
    }
    ++totals->cycles;
    if (max_concurrent > 1) ++totals->concurrent_cycles;
    if (r.killed) ++totals->kills;
    if (r.crashed) ++totals->failpoint_crashes;
    if (!r.killed && !r.crashed && r.exit_code != 0) {
      return fail("a run exited with " + std::to_string(r.exit_code) + ":\n" + r.stderr_text);
    }
    if (const std::string now = Latest(tmp.Sub("checkpoints")); !now.empty()) latest = now;
  }
  const auto final_args = command("");
  const auto done = RunWeir(final_args, -1, tmp.Sub("stderr.txt"));
  if (done.exit_code != 0) return fail("the final run failed:\n" + done.stderr_text);
  auto compared = testing::CompareRunningCounts(tmp.Sub("out"), expected);
  if (!compared.ok()) return fail(compared.status().ToString());
  totals->lost += compared->lost;
  totals->duplicated += compared->duplicated;
  if (compared->lost + compared->duplicated + compared->unexpected > 0) {
    return fail("output is not exactly-once: " + compared->first + " (" +
                std::to_string(compared->lost) + " lost, " + std::to_string(compared->duplicated) +
                " duplicated)");
  }
  const std::string dir = tmp.Sub("checkpoints");
  auto verify =
      nlohmann::json::parse(WeirOutput("checkpoints verify --json " + dir), nullptr, false);
  if (!verify.is_object() || !verify["healthy"].get<bool>()) {
    return fail("verify is not healthy: " + verify.dump());
  }
  WeirOutput("checkpoints gc --grace 0 --delete " + dir);
  verify = nlohmann::json::parse(WeirOutput("checkpoints verify --json " + dir), nullptr, false);
  if (!verify.is_object() || !verify["healthy"].get<bool>() || !verify["orphans"].empty()) {
    return fail("after gc: " + verify.dump());
  }
  if (!quiet) {
    std::printf("scenario seed %llu: %s P%d %s %s, max-concurrent %d, %d cycles: ok\n",
                static_cast<unsigned long long>(seed), wordcount ? "wordcount" : "keyed-aggregate",
                parallelism, hashmap ? "hashmap" : "rocksdb",
                changelog ? "changelog" : incremental ? "incremental" : "full",
                max_concurrent, cycles);
    std::fflush(stdout);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int cycles = 24, per_scenario = 6;
  uint64_t seed = 1;
  bool quiet = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--cycles" && i + 1 < argc)
      cycles = std::atoi(argv[++i]);
    else if (a == "--seed" && i + 1 < argc)
      seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--cycles-per-scenario" && i + 1 < argc)
      per_scenario = std::atoi(argv[++i]);
    else if (a == "--quiet")
      quiet = true;
    else if (a == "--weir" && i + 1 < argc)
      e2e::SetWeirBinary(argv[++i]);
    else {
      std::fprintf(
          stderr,
          "usage: %s [--cycles N] [--seed S] [--cycles-per-scenario K] [--weir PATH] [--quiet]\n",
          argv[0]);
      return 2;
    }
  }
  setenv("WEIR_LOG_LEVEL", "warn", 1);
  Totals totals;
  for (int done = 0; done < cycles; done += per_scenario) {
    const uint64_t scenario_seed = seed * 1000003 + static_cast<uint64_t>(totals.scenarios);
    ++totals.scenarios;
    Scenario(scenario_seed, std::min(per_scenario, cycles - done), quiet, &totals);
  }
  std::printf(
      "summary: %d cycles in %d scenarios (%d killed at random times, %d crashed at "
      "failpoints, %d of them followed by a power loss; %d with max-concurrent-checkpoints > 1), "
      "failures: %d, records lost: %lld, duplicated: %lld\n",
      totals.cycles, totals.scenarios, totals.kills, totals.failpoint_crashes, totals.power_losses,
      totals.concurrent_cycles, totals.failures, static_cast<long long>(totals.lost),
      static_cast<long long>(totals.duplicated));
  return totals.failures == 0 ? 0 : 1;
}
