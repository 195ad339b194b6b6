// Across processes: `weir run windowed-count` killed with SIGKILL at random moments and resumed
// with `-s <latest completed checkpoint>` (full, incremental and changelog checkpoints, tumbling
// and sliding windows, once at another parallelism): every (window, key) line is committed
// exactly once with the exact count, and the checkpoints verify clean. Also its bad input: a
// malformed line fails the job with one clear error naming it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "testing/output_oracle.h"
#include "testing/temp_dir.h"
#include "weir_process.h"

namespace weir::e2e {
namespace {

struct Scenario {
  std::string name;
  std::string checkpoints;  // full | incremental | changelog
  bool sliding = false;
  bool rescale = false;
};

class WindowedCountTest : public ::testing::TestWithParam<Scenario> {};

// 4 files of consecutive time ranges (subtask s reads files s, s + P, ... in order, so each
// subtask's input is in time order up to the out-of-orderness), 15,000 lines each.
std::map<std::string, int> WriteInput(const std::string& dir, bool sliding) {
  std::filesystem::create_directories(dir);
  std::mt19937_64 rng(11);
  std::map<std::tuple<int64_t, int64_t, std::string>, int64_t> counts;
  int64_t time = 1'700'000'000'000;
  for (int f = 0; f < 4; ++f) {
    std::ofstream file(dir + "/events-" + std::to_string(f) + ".csv");
    for (int i = 0; i < 15000; ++i) {
      time += 7;
      const int64_t t = time - static_cast<int64_t>(rng() % 400);  // within 500 ms of order
      const std::string key = "k" + std::to_string(rng() % 40);
      file << t << "," << key << "\n";
      const int64_t size = 1000, slide = sliding ? 500 : 1000;
      for (int64_t start = t - ((t % slide) + slide) % slide; start > t - size; start -= slide) {
        ++counts[{start, start + size, key}];
      }
    }
  }
  std::map<std::string, int> lines;
  for (const auto& [w, n] : counts) {
    ++lines[std::to_string(std::get<0>(w)) + "," + std::to_string(std::get<1>(w)) + "," +
            std::get<2>(w) + "," + std::to_string(n)];
  }
  return lines;
}

TEST_P(WindowedCountTest, EveryWindowAndKeyIsCommittedOnceWithItsExactCount) {
  const Scenario sc = GetParam();
  testing::TempDir tmp;
  const std::string checkpoints = tmp.Sub("checkpoints");
  const auto expected = WriteInput(tmp.Sub("in"), sc.sliding);
  std::vector<std::string> job = {"windowed-count", "--input",  tmp.Sub("in"), "--output",
                                  tmp.Sub("out"),   "--window", "1s",          "--out-of-orderness",
                                  "500ms",          "--rate",   "20000"};
  if (sc.sliding) job.insert(job.end(), {"--slide", "500ms"});
  const auto options = [&](int run) {
    const int parallelism = sc.rescale ? 1 + run % 3 : 2;
    return std::vector<std::string>{"-D",
                                    "execution.checkpointing.interval=100ms",
                                    "-D",
                                    "state.checkpoints.dir=" + checkpoints,
                                    "-D",
                                    "state.backend.rocksdb.localdir=" + tmp.Sub("local"),
                                    "-D",
                                    "parallelism.default=" + std::to_string(parallelism),
                                    "-D",
                                    std::string("state.backend.incremental=") +
                                        (sc.checkpoints == "incremental" ? "true" : "false"),
                                    "-D",
                                    std::string("state.backend.changelog.enabled=") +
                                        (sc.checkpoints == "changelog" ? "true" : "false"),
                                    "-D",
                                    "state.backend.changelog.periodic-materialize.interval=300ms"};
  };
  std::mt19937 rng(static_cast<unsigned>(sc.name.size() * 13 + sc.sliding));
  std::string log, latest;
  int kills = 0;
  for (int round = 0; round < 4; ++round) {
    std::vector<std::string> args = {"run"};
    if (!latest.empty()) args.insert(args.end(), {"-s", latest});
    const auto o = options(round);
    args.insert(args.end(), o.begin(), o.end());
    args.insert(args.end(), job.begin(), job.end());
    const int kill_after = 400 + static_cast<int>(rng() % 800);
    log += "run " + std::to_string(round) + " from '" + latest + "' killed after " +
           std::to_string(kill_after) + " ms\n";
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
  const auto o = options(4);
  args.insert(args.end(), o.begin(), o.end());
  args.insert(args.end(), job.begin(), job.end());
  const ProcessResult final_run = RunWeir(args, -1, tmp.Sub("stderr.txt"));
  ASSERT_EQ(final_run.exit_code, 0) << log << final_run.stderr_text;
  EXPECT_GE(kills, 1) << log;
  const auto got = testing::CommittedLines(tmp.Sub("out"));
  EXPECT_EQ(got.size(), expected.size()) << log;
  for (const auto& [line, n] : got) {
    if (expected.count(line) == 0 || n != 1) {
      ADD_FAILURE() << log << "committed " << n << " time(s), expected " << expected.count(line)
                    << ": " << line;
      break;
    }
  }
  EXPECT_TRUE(got == expected) << log;
  const ProcessResult verify =
      RunWeir({"checkpoints", "verify", checkpoints}, -1, tmp.Sub("v.txt"));
  EXPECT_EQ(verify.exit_code, 0) << verify.stderr_text;
}

INSTANTIATE_TEST_SUITE_P(E2E, WindowedCountTest,
                         ::testing::Values(Scenario{"TumblingFull", "full"},
                                           Scenario{"SlidingIncremental", "incremental", true},
                                           Scenario{"TumblingChangelog", "changelog"},
                                           Scenario{"SlidingRescaled", "incremental", true, true}),
                         [](const auto& info) { return info.param.name; });

TEST(WindowedCountErrorsTest, AMalformedLineFailsTheJobNamingIt) {
  testing::TempDir tmp;
  std::filesystem::create_directories(tmp.Sub("in"));
  {
    std::ofstream f(tmp.Sub("in/events.csv"));
    f << "1000,a\n2000,b\nnot-a-time,c\n";
  }
  const ProcessResult r =
      RunWeir({"run", "-D", "restart-strategy.type=none", "windowed-count", "--input",
               tmp.Sub("in"), "--output", tmp.Sub("out"), "--window", "1s"},
              -1, tmp.Sub("stderr.txt"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.stderr_text.find("input line 'not-a-time,c' is not event_time_ms,key"),
            std::string::npos)
      << r.stderr_text;
  const ProcessResult bad_window =
      RunWeir({"run", "windowed-count", "--input", tmp.Sub("in"), "--output", tmp.Sub("out"),
               "--window", "1s", "--slide", "2s"},
              -1, tmp.Sub("stderr.txt"));
  EXPECT_NE(bad_window.exit_code, 0);
  EXPECT_NE(bad_window.stderr_text.find("window slide must be positive and at most the size"),
            std::string::npos)
      << bad_window.stderr_text;
}

}  // namespace
}  // namespace weir::e2e
