// Across processes: `weir run` of keyed-aggregate and wordcount killed with SIGKILL at random
// moments, resumed each time with `weir run -s <latest completed checkpoint>` (found with
// `weir checkpoints list --json`); the committed output must then be exactly-once and the final
// counts and sums those of a failure-free run. Full, incremental and changelog checkpoints,
// parallelism 1 and 4, and rescaling: each resume at another parallelism (2 -> 4 -> 1 -> 3 -> 2),
// after which gc leaves no orphan. Seeded: a failure prints the seed and each command's kill time.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "testing/output_oracle.h"
#include "testing/temp_dir.h"
#include "weir_process.h"

namespace weir::e2e {
namespace {

struct Scenario {
  std::string job;
  int parallelism;
  bool incremental;
  bool rescale = false;        // each run at the next parallelism of kRescaleChain
  bool changelog = false;      // changelog checkpoints (materializing every 300 ms)
  bool log_base_path = false;  // the log in dstl.dfs.base-path, outside the job directories
};

constexpr int kRescaleChain[] = {2, 4, 1, 3, 2};

class KillResumeTest : public ::testing::TestWithParam<Scenario> {};

TEST_P(KillResumeTest, CommittedOutputIsExactlyOnceAfterEveryKill) {
  const Scenario sc = GetParam();
  testing::TempDir tmp;
  const std::string checkpoints = tmp.Sub("checkpoints");
  std::vector<std::string> job_args;
  std::map<std::string, testing::KeyTotals> expected;
  if (sc.job == "keyed-aggregate") {
    const uint64_t events = 120000, keys = 2000;
    job_args = {"--events", std::to_string(events), "--keys", std::to_string(keys), "--rate",
                "50000",    "--payload-bytes",      "64",     "--output",           tmp.Sub("out")};
    expected = testing::KeyedAggregateTotals(events, keys);
  } else {
    std::filesystem::create_directories(tmp.Sub("in"));
    std::vector<std::string> lines;
    std::mt19937_64 words(7);
    for (int f = 0; f < 4; ++f) {
      std::ofstream file(tmp.Sub("in/text-" + std::to_string(f)));
      for (int i = 0; i < 25000; ++i) {
        std::string line;
        for (int w = 0; w < 8; ++w) line += "w" + std::to_string(words() % 1500) + " ";
        file << line << "\n";
        lines.push_back(line);
      }
    }
    // Paced so that the job outlives the kill delays however fast the state backend is.
    job_args = {"--input", tmp.Sub("in"), "--output", tmp.Sub("out"), "--rate", "30000"};
    expected = testing::WordCountTotals(lines);
  }
  const auto options = [&](int run) {
    const int parallelism = sc.rescale ? kRescaleChain[run] : sc.parallelism;
    return std::vector<std::string>{
        "-D", "execution.checkpointing.interval=100ms",
        "-D", "state.checkpoints.dir=" + checkpoints,
        "-D", "state.backend.rocksdb.localdir=" + tmp.Sub("local"),
        "-D", "parallelism.default=" + std::to_string(parallelism),
        "-D", std::string("state.backend.incremental=") + (sc.incremental ? "true" : "false"),
        "-D", std::string("state.backend.changelog.enabled=") + (sc.changelog ? "true" : "false"),
        "-D", "state.backend.changelog.periodic-materialize.interval=300ms",
        "-D", "dstl.dfs.base-path=" + (sc.log_base_path ? tmp.Sub("dstl") : std::string())};
  };
  const unsigned seed = static_cast<unsigned>(sc.parallelism * 31 + sc.incremental * 7 +
                                              sc.job.size() + sc.rescale * 3 + sc.changelog * 5);
  std::mt19937 rng(seed);
  std::string log = "seed " + std::to_string(seed) + "\n";
  std::string latest;
  int kills = 0;
  for (int round = 0; round < 4; ++round) {
    std::vector<std::string> args = {"run"};
    if (!latest.empty()) args.insert(args.end(), {"-s", latest});
    const auto run_options = options(round);
    args.insert(args.end(), run_options.begin(), run_options.end());
    args.push_back(sc.job);
    args.insert(args.end(), job_args.begin(), job_args.end());
    const int kill_after = 300 + static_cast<int>(rng() % 700);
    log += "weir run " + (latest.empty() ? "" : "-s " + latest + " ") + run_options[7] +
           " ... killed after " + std::to_string(kill_after) + " ms\n";
    const ProcessResult r = RunWeir(args, kill_after, tmp.Sub("stderr.txt"));
    if (r.killed) ++kills;
    if (!r.killed) {
      ASSERT_EQ(r.exit_code, 0) << log << r.stderr_text;
    }
    const std::string now_latest = LatestCheckpoint(checkpoints);
    if (!now_latest.empty()) latest = now_latest;
  }
  std::vector<std::string> args = {"run"};
  if (!latest.empty()) args.insert(args.end(), {"-s", latest});
  const auto final_options = options(4);
  args.insert(args.end(), final_options.begin(), final_options.end());
  args.push_back(sc.job);
  args.insert(args.end(), job_args.begin(), job_args.end());
  const ProcessResult final_run = RunWeir(args, -1, tmp.Sub("stderr.txt"));
  ASSERT_EQ(final_run.exit_code, 0) << log << final_run.stderr_text;
  EXPECT_GE(kills, 1) << log;
  const Status exact = testing::CheckRunningCounts(tmp.Sub("out"), expected);
  EXPECT_TRUE(exact.ok()) << log << exact.message();
  // Every retained checkpoint is intact (what the kills left unreferenced is for gc).
  const ProcessResult verify =
      RunWeir({"checkpoints", "verify", checkpoints}, -1, tmp.Sub("v.txt"));
  EXPECT_EQ(verify.exit_code, 0) << verify.stderr_text;
  // gc deletes what the kills left unreferenced; then nothing is orphaned and every retained
  // checkpoint is still intact.
  const ProcessResult gc = RunWeir({"checkpoints", "gc", checkpoints, "--grace", "0", "--delete"},
                                   -1, tmp.Sub("gc.txt"));
  EXPECT_EQ(gc.exit_code, 0) << gc.stderr_text;
  const auto report =
      nlohmann::json::parse(WeirOutput("checkpoints verify --json " + checkpoints), nullptr, false);
  ASSERT_TRUE(report.is_object()) << report.dump();
  EXPECT_TRUE(report["orphans"].empty()) << report.dump(2);
  EXPECT_TRUE(report["corrupt"].empty()) << report.dump(2);
  if (sc.log_base_path) {
    // Every log file lies in <base path>/<job id>/, none in a job directory's shared/; gc left
    // only those the retained checkpoints reference.
    size_t in_base = 0, in_checkpoints = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(tmp.Sub("dstl"))) {
      in_base += e.path().extension() == ".dstl";
    }
    for (const auto& e : std::filesystem::recursive_directory_iterator(checkpoints)) {
      in_checkpoints += e.path().extension() == ".dstl";
    }
    EXPECT_GT(in_base, 0u);
    EXPECT_EQ(in_checkpoints, 0u);
  }
  if (!sc.rescale) return;
  // inspect shows each operator's parallelism, its key-group ranges and its operator state.
  const auto inspect = nlohmann::json::parse(
      WeirOutput("checkpoints inspect --json " + LatestCheckpoint(checkpoints)), nullptr, false);
  ASSERT_TRUE(inspect.is_object()) << inspect.dump();
  const std::string keyed = sc.job == "wordcount" ? "count" : "aggregate";
  const std::string source = sc.job == "wordcount" ? "lines" : "events";
  for (const auto& op : inspect["operators"]) {
    EXPECT_EQ(op["parallelism"], kRescaleChain[4]) << op.dump();
    if (op["uid"] == keyed) {
      EXPECT_EQ(op["key_group_ranges"], nlohmann::json::parse("[[0, 63], [64, 127]]")) << op.dump();
    }
    if (op["uid"] == source) {
      ASSERT_EQ(op["operator_state"].size(), 2u) << op.dump();
      EXPECT_EQ(op["operator_state"][0]["lists"][0]["mode"],
                sc.job == "wordcount" ? "union" : "split")
          << op.dump();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    E2E, KillResumeTest,
    ::testing::Values(Scenario{"keyed-aggregate", 1, false}, Scenario{"keyed-aggregate", 1, true},
                      Scenario{"keyed-aggregate", 4, false}, Scenario{"keyed-aggregate", 4, true},
                      Scenario{"wordcount", 1, false}, Scenario{"wordcount", 1, true},
                      Scenario{"wordcount", 4, false}, Scenario{"wordcount", 4, true},
                      Scenario{"keyed-aggregate", 0, false, true},
                      Scenario{"keyed-aggregate", 0, true, true},
                      Scenario{"wordcount", 0, true, true},
                      Scenario{"keyed-aggregate", 4, true, false, true},
                      Scenario{"keyed-aggregate", 0, false, true, true},
                      Scenario{"wordcount", 1, false, false, true},
                      Scenario{"keyed-aggregate", 2, true, false, true, true}),
    [](const auto& info) {
      std::string name = info.param.job == "wordcount" ? "WordCount" : "KeyedAggregate";
      return name +
             (info.param.rescale ? std::string("Rescaled")
                                 : "P" + std::to_string(info.param.parallelism)) +
             (info.param.log_base_path ? "ChangelogInBasePath"
              : info.param.changelog   ? "Changelog"
              : info.param.incremental ? "Incremental"
                                       : "Full");
    });

}  // namespace
}  // namespace weir::e2e
