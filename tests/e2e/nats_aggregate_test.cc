// Across processes, with a real nats-server: `weir nats produce` fills the input stream, then
// `weir run nats-aggregate --bounded` (parallelism 2, incremental checkpoints every 100 ms) is
// killed with SIGKILL at random moments and resumed with `-s` each time, or runs through a NATS
// server restart; `weir nats dump` of the output stream must then hold every key's counts
// 1..final exactly once, with the sums of a failure-free run.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "common/clock.h"
#include "connectors/nats/nats_client.h"
#include "testing/nats_server.h"
#include "testing/output_oracle.h"
#include "testing/temp_dir.h"
#include "weir_process.h"

namespace weir::e2e {
namespace {

constexpr uint64_t kEvents = 400000;
constexpr uint64_t kKeys = 2000;

class NatsAggregateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start().ok());
    const ProcessResult produce =
        RunWeir({"nats", "produce", "--server", server_.url(), "--stream", "EV", "--subjects", "4",
                 "--keys", std::to_string(kKeys), "--events", std::to_string(kEvents)},
                -1, tmp_.Sub("produce.txt"));
    ASSERT_EQ(produce.exit_code, 0) << produce.stderr_text;
  }

  std::vector<std::string> RunArgs(const std::string& from, int parallelism = 2) const {
    std::vector<std::string> args = {"run"};
    if (!from.empty()) args.insert(args.end(), {"-s", from});
    args.insert(args.end(),
                {"-D",
                 "execution.checkpointing.interval=100ms",
                 "-D",
                 "state.checkpoints.dir=" + tmp_.Sub("checkpoints"),
                 "-D",
                 "state.backend.rocksdb.localdir=" + tmp_.Sub("local"),
                 "-D",
                 "parallelism.default=" + std::to_string(parallelism),
                 "-D",
                 "state.backend.incremental=true",
                 "-D",
                 std::string("state.backend.changelog.enabled=") + (changelog_ ? "true" : "false"),
                 "-D",
                 "state.backend.changelog.periodic-materialize.interval=300ms",
                 "nats-aggregate",
                 "--server",
                 server_.url(),
                 "--input",
                 "EV",
                 "--output",
                 "OUT",
                 "--bounded"});
    if (groups_ > 0) {
      args.insert(args.end(), {"--groups", std::to_string(groups_), "--group-output", "GOUT"});
    }
    return args;
  }

  // Runs killed at random moments, each resumed from the latest checkpoint, then a run to the
  // end: the output is exactly once.
  void KillAndResume(unsigned seed) {
    std::mt19937 rng(seed);
    std::string log, latest;
    int kills = 0;
    for (int round = 0; round < 4; ++round) {
      const int kill_after = 300 + static_cast<int>(rng() % 900);
      log += "weir run " + (latest.empty() ? "" : "-s " + latest + " ") + "... killed after " +
             std::to_string(kill_after) + " ms\n";
      const ProcessResult r = RunWeir(RunArgs(latest), kill_after, tmp_.Sub("stderr.txt"));
      if (r.killed) {
        ++kills;
      } else {
        ASSERT_EQ(r.exit_code, 0) << log << r.stderr_text;
      }
      if (const std::string now = LatestCheckpoint(tmp_.Sub("checkpoints")); !now.empty()) {
        latest = now;
      }
    }
    const ProcessResult last = RunWeir(RunArgs(latest), -1, tmp_.Sub("stderr.txt"));
    ASSERT_EQ(last.exit_code, 0) << log << last.stderr_text;
    EXPECT_GE(kills, 2) << log;
    const Status exact = CheckOutput();
    EXPECT_TRUE(exact.ok()) << log << exact.message();
  }

  // The output stream, as `weir nats dump` prints it, checked against a failure-free run.
  Status CheckOutput() {
    std::filesystem::create_directories(tmp_.Sub("out"));
    const std::string dump = WeirOutput("nats dump --server " + server_.url() + " --stream OUT");
    std::ofstream(tmp_.Sub("out/dump.txt")) << dump;
    WEIR_RETURN_IF_ERROR(testing::CheckRunningCounts(
        tmp_.Sub("out"), testing::KeyedAggregateTotals(kEvents, kKeys)));
    if (groups_ > 0) WEIR_RETURN_IF_ERROR(CheckGroupOutput());
    // The same messages with their subjects and headers: every one carries a message id (the
    // sink's deduplication), each id once.
    std::istringstream plain(dump);
    std::istringstream full(
        WeirOutput("nats dump --subjects --headers --server " + server_.url() + " --stream OUT"));
    std::set<std::string> ids;
    std::string payload, line;
    while (std::getline(plain, payload)) {
      if (!std::getline(full, line)) return Status::Internal("--headers printed fewer lines");
      const size_t tab1 = line.find('\t'), tab2 = line.find('\t', tab1 + 1);
      if (tab2 == std::string::npos || line.substr(0, tab1) != "OUT" ||
          line.substr(tab2 + 1) != payload) {
        return Status::Internal("unexpected dump line '" + line + "' for payload " + payload);
      }
      const std::string headers = line.substr(tab1 + 1, tab2 - tab1 - 1);
      const size_t id_at = headers.find("Nats-Msg-Id:");
      if (id_at == std::string::npos) return Status::Internal("no message id in " + line);
      const std::string id = headers.substr(id_at, headers.find(' ', id_at) - id_at);
      if (!ids.insert(id).second) return Status::Internal("message id twice: " + id);
    }
    if (std::getline(full, line)) return Status::Internal("--headers printed more lines");
    return Status::OK();
  }

  // --groups: every group's counts 1..n once, with the total of its keys' events.
  Status CheckGroupOutput() {
    std::filesystem::create_directories(tmp_.Sub("group-out"));
    std::ofstream(tmp_.Sub("group-out/dump.txt"))
        << WeirOutput("nats dump --server " + server_.url() + " --stream GOUT");
    return testing::CheckRunningCounts(tmp_.Sub("group-out"),
                                       testing::KeyedAggregateGroupTotals(kEvents, kKeys, groups_));
  }

  testing::TempDir tmp_;
  testing::NatsServer server_{tmp_.Sub("nats-store")};
  bool changelog_ = false;  // changelog checkpoints instead of incremental ones
  uint64_t groups_ = 0;     // nats-aggregate --groups: a second keyBy
};

TEST_F(NatsAggregateTest, OutputIsExactlyOnceAfterEveryKill) { KillAndResume(11); }

// A second keyBy in one process (--groups 5: per key, then per key mod 5): both outputs stay
// exactly once across kills.
TEST_F(NatsAggregateTest, GroupTotalsAfterASecondKeyByAreExactlyOnceAfterEveryKill) {
  groups_ = 5;
  KillAndResume(12);
}

// The same with changelog checkpoints (materializing every 300 ms): the sink's batches are
// published once after checkpoints that only made the state-change log durable.
TEST_F(NatsAggregateTest, OutputIsExactlyOnceAfterEveryKillWithChangelogCheckpoints) {
  changelog_ = true;
  KillAndResume(13);
  const ProcessResult verify =
      RunWeir({"checkpoints", "verify", tmp_.Sub("checkpoints")}, -1, tmp_.Sub("v.txt"));
  EXPECT_EQ(verify.exit_code, 0) << verify.stderr_text;
}

// Each resume at another parallelism (2 -> 3 -> 1 -> 4 -> 2): the subjects' positions, the keyed
// state and the sink's pending batches move to the new subtasks; the output is still exactly once.
TEST_F(NatsAggregateTest, OutputIsExactlyOnceWhenResumedAtOtherParallelisms) {
  std::mt19937 rng(17);
  std::string log, latest;
  const int chain[] = {2, 3, 1, 4, 2};
  for (int round = 0; round < 4; ++round) {
    const int kill_after = 400 + static_cast<int>(rng() % 800);
    log += "weir run " + (latest.empty() ? "" : "-s " + latest + " ") + "at parallelism " +
           std::to_string(chain[round]) + "... killed after " + std::to_string(kill_after) +
           " ms\n";
    const ProcessResult r =
        RunWeir(RunArgs(latest, chain[round]), kill_after, tmp_.Sub("stderr.txt"));
    if (!r.killed) {
      ASSERT_EQ(r.exit_code, 0) << log << r.stderr_text;
    }
    if (const std::string now = LatestCheckpoint(tmp_.Sub("checkpoints")); !now.empty()) {
      latest = now;
    }
  }
  const ProcessResult last = RunWeir(RunArgs(latest, chain[4]), -1, tmp_.Sub("stderr.txt"));
  ASSERT_EQ(last.exit_code, 0) << log << last.stderr_text;
  const Status exact = CheckOutput();
  EXPECT_TRUE(exact.ok()) << log << exact.message();
  const ProcessResult verify =
      RunWeir({"checkpoints", "verify", tmp_.Sub("checkpoints")}, -1, tmp_.Sub("v.txt"));
  EXPECT_EQ(verify.exit_code, 0) << verify.stderr_text;
}

TEST_F(NatsAggregateTest, AServerRestartDuringTheRunLosesNothing) {
  std::thread restart([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    server_.Kill();
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    EXPECT_TRUE(server_.Start().ok());
  });
  const ProcessResult r = RunWeir(RunArgs(""), -1, tmp_.Sub("stderr.txt"));
  restart.join();
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("reconnected"), std::string::npos)
      << "the job ended before the restart; " << r.stderr_text;
  const Status exact = CheckOutput();
  EXPECT_TRUE(exact.ok()) << exact.message();
}

TEST_F(NatsAggregateTest, MalformedRecordIsOneClearError) {
  auto client = nats::NatsClient::Connect(server_.url(), "test");
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->PublishAll("EV.3", {"not-an-event"}, {}, NowSteadyMs() + 10000).ok());
  std::vector<std::string> args = RunArgs("");
  args.insert(args.begin() + 1, {"-D", "restart-strategy=none"});
  const ProcessResult r = RunWeir(args, -1, tmp_.Sub("stderr.txt"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.stderr_text.find("message " + std::to_string(kEvents + 1) +
                               " of stream EV (subject EV.3) is not 'key,value': 'not-an-event'"),
            std::string::npos)
      << r.stderr_text;
}

TEST_F(NatsAggregateTest, ToolsNameWhatIsWrong) {
  const ProcessResult missing = RunWeir(
      {"nats", "dump", "--server", server_.url(), "--stream", "MISSING"}, -1, tmp_.Sub("e.txt"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.stderr_text,
            "weir: nats dump: stream MISSING does not exist on " + server_.url() + "\n");
  const ProcessResult keys =
      RunWeir({"nats", "produce", "--server", server_.url(), "--stream", "X", "--keys", "0"}, -1,
              tmp_.Sub("e.txt"));
  EXPECT_NE(keys.exit_code, 0);
  EXPECT_NE(keys.stderr_text.find("--keys"), std::string::npos) << keys.stderr_text;
}

}  // namespace
}  // namespace weir::e2e
