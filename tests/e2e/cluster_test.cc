// One job across several `weir worker` processes, with a real etcd and nats-server on loopback:
// `weir nats produce --shards 3` partitions the input by the job's key, workers run
// nats-aggregate's shards (incremental checkpoints every 100 ms, leases of 2 s). Workers are
// killed with SIGKILL at random moments (several cycles, a new one started after each), paused
// past their lease as zombies, added and stopped gracefully, and etcd and nats-server are
// restarted under them; the output stream must then hold
// every key's counts 1..final exactly once with the sums of a failure-free run, and every
// shard's latest checkpoint directory must verify clean.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "cluster/etcd_client.h"
#include "cluster/worker.h"
#include "testing/child_process.h"
#include "testing/etcd_server.h"
#include "testing/nats_server.h"
#include "testing/output_oracle.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"
#include "weir_process.h"

namespace weir::e2e {
namespace {

constexpr uint64_t kEvents = 300000;
constexpr uint64_t kKeys = 2000;
constexpr int kShards = 3;

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(etcd_.Start().ok());
    ASSERT_TRUE(nats_.Start().ok());
    const ProcessResult produce =
        RunWeir({"nats", "produce", "--server", nats_.url(), "--stream", "EV", "--shards",
                 std::to_string(kShards), "--keys", std::to_string(kKeys), "--events",
                 std::to_string(kEvents)},
                -1, tmp_.Sub("produce.txt"));
    ASSERT_EQ(produce.exit_code, 0) << produce.stderr_text;
    auto etcd = cluster::EtcdClient::Create(etcd_.url());
    ASSERT_TRUE(etcd.ok());
    client_ = std::move(etcd).value();
  }
  void TearDown() override {
    for (auto& [id, pid] : workers_) testing::SignalAndWait(&pid, SIGKILL);
  }

  // `extra`: more -D key=value settings.
  void StartWorker(const std::string& id, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {WeirBinary(),
                                     "worker",
                                     "--cluster",
                                     etcd_.url(),
                                     "--job",
                                     "agg",
                                     "--id",
                                     id,
                                     "-D",
                                     "execution.checkpointing.interval=100ms",
                                     "-D",
                                     "state.checkpoints.dir=" + tmp_.Sub("checkpoints"),
                                     "-D",
                                     "state.backend.rocksdb.localdir=" + tmp_.Sub("local"),
                                     "-D",
                                     "state.backend.incremental=true",
                                     "-D",
                                     "parallelism.default=1",
                                     "-D",
                                     "cluster.shards=" + std::to_string(kShards),
                                     "-D",
                                     "cluster.lease-ttl=2s",
                                     "-D",
                                     "rest.port=0",
                                     "nats-aggregate",
                                     "--server",
                                     nats_.url(),
                                     "--input",
                                     "EV",
                                     "--output",
                                     "OUT",
                                     "--bounded"};
    args.insert(args.end(), job_args_.begin(), job_args_.end());
    // Before the job's name, after the defaults (a later -D wins).
    auto at = std::find(args.begin(), args.end(), "nats-aggregate");
    for (const std::string& kv : extra) {
      at = args.insert(at, {"-D", kv}) + 2;
    }
    auto pid = testing::SpawnLogged(args, tmp_.Sub("worker-" + id + ".log"));
    ASSERT_TRUE(pid.ok()) << pid.status().ToString();
    workers_[id] = *pid;
  }
  // Waits for worker `id` to exit; its exit code (-1: killed by a signal or still running).
  int WaitExit(const std::string& id, std::chrono::seconds timeout) {
    pid_t& pid = workers_[id];
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return -1;
  }
  void Kill(const std::string& id) { testing::SignalAndWait(&workers_[id], SIGKILL); }
  std::string Log(const std::string& id) {
    std::ifstream in(tmp_.Sub("worker-" + id + ".log"));
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  // The port of worker `id`'s cluster view, from its log (0: not served yet).
  int RestPort(const std::string& id) {
    const std::string log = Log(id);
    const std::string marker = "cluster view at http://127.0.0.1:";
    const size_t at = log.find(marker);
    return at == std::string::npos ? 0 : std::atoi(log.c_str() + at + marker.size());
  }
  // Every shard has completed a checkpoint.
  bool AllShardsCheckpointed() {
    auto view = cluster::ReadClusterView(*client_, "agg");
    if (!view.ok()) return false;
    for (const auto& s : view->shards_state) {
      if (!s.checkpoint) return false;
    }
    return true;
  }
  Status CheckOutput() {
    std::filesystem::create_directories(tmp_.Sub("out"));
    std::ofstream(tmp_.Sub("out/dump.txt"))
        << WeirOutput("nats dump --server " + nats_.url() + " --stream OUT");
    return testing::CheckRunningCounts(tmp_.Sub("out"),
                                       testing::KeyedAggregateTotals(kEvents, kKeys));
  }
  // nats-aggregate --groups: every group's counts 1..n once, with the total of its keys' events.
  Status CheckGroupOutput(uint64_t groups) {
    std::filesystem::create_directories(tmp_.Sub("group-out"));
    std::ofstream(tmp_.Sub("group-out/dump.txt"))
        << WeirOutput("nats dump --server " + nats_.url() + " --stream GOUT");
    return testing::CheckRunningCounts(tmp_.Sub("group-out"),
                                       testing::KeyedAggregateGroupTotals(kEvents, kKeys, groups));
  }
  // `weir checkpoints verify` of each shard's latest checkpoint's job directory.
  void ExpectShardsVerifyClean() {
    auto view = cluster::ReadClusterView(*client_, "agg");
    ASSERT_TRUE(view.ok()) << view.status().ToString();
    for (const auto& s : view->shards_state) {
      ASSERT_TRUE(s.finished) << "shard " << s.shard;
      ASSERT_TRUE(s.checkpoint.has_value());
      const std::string job_dir =
          std::filesystem::path(s.checkpoint->path).parent_path().parent_path().string();
      const ProcessResult verify =
          RunWeir({"checkpoints", "verify", job_dir}, -1, tmp_.Sub("verify.txt"));
      EXPECT_EQ(verify.exit_code, 0) << "shard " << s.shard << ": " << verify.stderr_text;
    }
  }
  // Once a shard's owner recorded its first checkpoint, the directories of the owners before it
  // are gone: each shard directory holds only the epoch directory of its latest checkpoint.
  void ExpectFormerOwnersDirectoriesDeleted() {
    auto view = cluster::ReadClusterView(*client_, "agg");
    ASSERT_TRUE(view.ok()) << view.status().ToString();
    for (const auto& s : view->shards_state) {
      ASSERT_TRUE(s.checkpoint.has_value());
      const std::filesystem::path epoch_dir =
          std::filesystem::path(s.checkpoint->path).parent_path().parent_path().parent_path();
      std::vector<std::string> entries;
      for (const auto& e : std::filesystem::directory_iterator(epoch_dir.parent_path())) {
        entries.push_back(e.path().filename().string());
      }
      EXPECT_EQ(entries, std::vector<std::string>{epoch_dir.filename().string()})
          << "shard " << s.shard;
    }
  }
  std::string Logs() {
    std::string all;
    for (const auto& [id, pid] : workers_) all += "--- " + id + "\n" + Log(id);
    return all;
  }

  testing::TempDir tmp_;
  testing::EtcdServer etcd_{tmp_.Sub("etcd")};
  testing::NatsServer nats_{tmp_.Sub("nats")};
  std::unique_ptr<cluster::EtcdClient> client_;
  std::map<std::string, pid_t> workers_;
  std::vector<std::string> job_args_;  // appended to nats-aggregate's arguments
};

TEST_F(ClusterTest, WorkersKilledAtRandomMomentsLoseNothingAndDuplicateNothing) {
  std::mt19937 rng(20261205);
  StartWorker("w1");
  StartWorker("w2");
  StartWorker("w3");
  ASSERT_TRUE(testing::WaitFor([&] { return AllShardsCheckpointed(); }, std::chrono::seconds(60)))
      << Logs();
  // Two cycles: kill a random live worker at a random moment, start a new one.
  int next = 4;
  for (int cycle = 0; cycle < 2; ++cycle) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 600));
    std::vector<std::string> live;
    for (const auto& [id, pid] : workers_) {
      if (pid > 0) live.push_back(id);
    }
    Kill(live[rng() % live.size()]);
    StartWorker("w" + std::to_string(next++));
  }
  for (auto& [id, pid] : workers_) {
    if (pid > 0) {
      EXPECT_EQ(WaitExit(id, std::chrono::seconds(120)), 0) << id << "\n" << Logs();
    }
  }
  const Status exact = CheckOutput();
  EXPECT_TRUE(exact.ok()) << exact.message() << "\n" << Logs();
  ExpectShardsVerifyClean();
  ExpectFormerOwnersDirectoriesDeleted();
}

TEST_F(ClusterTest, AZombieOwnerNeitherCompletesACheckpointNorPublishes) {
  StartWorker("w1");
  StartWorker("w2");
  ASSERT_TRUE(testing::WaitFor([&] { return AllShardsCheckpointed(); }, std::chrono::seconds(60)))
      << Logs();
  // w1 stops answering for three lease TTLs: w2 takes its shards over; then w1 resumes.
  // w1 must own a shard when it stops (right after the start, shards may still be moving to it).
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto view = cluster::ReadClusterView(*client_, "agg");
        if (!view.ok()) return false;
        for (const auto& s : view->shards_state) {
          if (!s.finished && s.owner == "w1" && s.checkpoint && s.checkpoint->epoch == s.epoch) {
            return true;
          }
        }
        return false;
      },
      std::chrono::seconds(30)))
      << Logs();
  kill(workers_["w1"], SIGSTOP);
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto view = cluster::ReadClusterView(*client_, "agg");
        if (!view.ok()) return false;
        for (const auto& s : view->shards_state) {
          if (!s.finished && s.owner != "w2") return false;
        }
        // Its lease has expired (not only its shards were handed over).
        return std::find(view->members.begin(), view->members.end(), "w1") == view->members.end();
      },
      std::chrono::seconds(30)))
      << Logs();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  kill(workers_["w1"], SIGCONT);
  EXPECT_EQ(WaitExit("w2", std::chrono::seconds(120)), 0) << Logs();
  EXPECT_EQ(WaitExit("w1", std::chrono::seconds(60)), 0) << Logs();
  // It noticed: its lease was gone, so it stopped what it ran before doing anything else (a
  // checkpoint that completed in between was refused by the fence).
  EXPECT_NE(Log("w1").find("lease lost"), std::string::npos) << Logs();
  const Status exact = CheckOutput();
  EXPECT_TRUE(exact.ok()) << exact.message() << "\n" << Logs();
  ExpectShardsVerifyClean();
  ExpectFormerOwnersDirectoriesDeleted();
}

// Disabled: under the suite's load it still fails now and then (passes alone and under a CPU
// hog: 9 of 9 runs). Two causes found and fixed: a release etcd missed left a shard owned by a
// live worker that no longer ran it (WorkerTest.AReleaseThatEtcdMissedIsTriedAgain), and a
// sink sent its whole ~100k-message batch again after each publish stall (now acknowledged
// chunks). Left: after the nats-server restart the workers keep checkpointing but never reach
// the end of their input (output incomplete, never duplicated). Run it with
// --gtest_also_run_disabled_tests.
TEST_F(ClusterTest, EtcdAndNatsServerRestartedMidRunLoseNothing) {
  StartWorker("w1");
  StartWorker("w2");
  ASSERT_TRUE(testing::WaitFor([&] { return AllShardsCheckpointed(); }, std::chrono::seconds(60)))
      << Logs();
  etcd_.Kill();  // same ports and data on the restart
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(etcd_.Start().ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  nats_.Kill();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(nats_.Start().ok());
  EXPECT_EQ(WaitExit("w1", std::chrono::seconds(120)), 0) << Logs();
  EXPECT_EQ(WaitExit("w2", std::chrono::seconds(120)), 0) << Logs();
  const Status exact = CheckOutput();
  EXPECT_TRUE(exact.ok()) << exact.message() << "\n" << Logs();
  ExpectShardsVerifyClean();
  ExpectFormerOwnersDirectoriesDeleted();
}

TEST_F(ClusterTest, AWorkerRestartedWithinItsLeaseKeepsItsShards) {
  // state.backend.local-recovery: w1 keeps its lease id; killed and started again within the
  // lease's 6 s, it takes the lease back and runs its shards again, restored from its local
  // copies; w2 never gets them.
  const std::vector<std::string> recovery = {"state.backend.local-recovery=true",
                                             "cluster.lease-ttl=6s"};
  StartWorker("w1", recovery);
  StartWorker("w2", recovery);
  std::vector<int> kept;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto view = cluster::ReadClusterView(*client_, "agg");
        if (!view.ok() || !AllShardsCheckpointed()) return false;
        kept.clear();
        // Owned and assigned: a shard w1 is handing off when it dies goes to w2 (released by
        // the restarted w1), as it should.
        for (const auto& s : view->shards_state) {
          const auto to = view->assignment.find(s.shard);
          // ... and checkpointed by w1 itself (a copy of that checkpoint is w1's to keep).
          if (s.owner == "w1" && !s.finished && to != view->assignment.end() &&
              to->second == "w1" && s.checkpoint && s.checkpoint->epoch == s.epoch) {
            kept.push_back(s.shard);
          }
        }
        // The leader has assigned w2 its share: what w1 keeps now stays w1's.
        const bool w2_assigned = std::any_of(view->assignment.begin(), view->assignment.end(),
                                             [](const auto& a) { return a.second == "w2"; });
        return !kept.empty() && view->members.size() == 2 && w2_assigned;
      },
      std::chrono::seconds(60)))
      << Logs();
  Kill("w1");
  const size_t w2_before = Log("w2").size();
  StartWorker("w1", recovery);
  EXPECT_EQ(WaitExit("w1", std::chrono::seconds(120)), 0) << Logs();
  EXPECT_EQ(WaitExit("w2", std::chrono::seconds(120)), 0) << Logs();
  EXPECT_NE(Log("w1").find("it keeps its shards"), std::string::npos) << Logs();
  // Its shards' state came from the local copies of their checkpoints, not the storage.
  EXPECT_NE(Log("w1").find("from its local copy"), std::string::npos) << Logs();
  // Both ended gracefully: no local copy is left behind.
  const std::string copies =
      tmp_.Sub("local") + "/weir-local-recovery-" + std::to_string(::geteuid());
  ASSERT_TRUE(std::filesystem::is_directory(copies));
  EXPECT_TRUE(std::filesystem::is_empty(copies));
  const std::string w2 = Log("w2").substr(w2_before);
  for (int s : kept) {
    EXPECT_EQ(w2.find("runs shard " + std::to_string(s) + " at epoch"), std::string::npos)
        << "shard " << s << " moved to w2:\n"
        << Logs();
  }
  const Status exact = CheckOutput();
  EXPECT_TRUE(exact.ok()) << exact.message() << "\n" << Logs();
  ExpectShardsVerifyClean();
}

TEST_F(ClusterTest, AKilledWorkersShardsAreTakenOverFromTheirStandbyCopies) {
  // cluster.standby-replicas=1: w2 follows the checkpoints of w1's shards in copies of its own;
  // once w1 is killed, w2 restores them from those copies and fetches only what the newest
  // checkpoints added.
  const std::vector<std::string> standby = {"cluster.standby-replicas=1"};
  StartWorker("w1", standby);
  StartWorker("w2", standby);
  std::vector<int> of_w1;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto view = cluster::ReadClusterView(*client_, "agg");
        if (!view.ok() || view->members.size() != 2) return false;
        of_w1.clear();
        const std::string w2 = Log("w2");
        for (const auto& s : view->shards_state) {
          const auto to = view->assignment.find(s.shard);
          const auto standbys = view->standbys.find(s.shard);
          if (s.owner == "w1" && !s.finished && to != view->assignment.end() &&
              to->second == "w1" && standbys != view->standbys.end() &&
              standbys->second == std::vector<std::string>{"w2"} &&
              w2.find("standby copy of shard " + std::to_string(s.shard) + " holds") !=
                  std::string::npos) {
            of_w1.push_back(s.shard);
          }
        }
        return !of_w1.empty();
      },
      std::chrono::seconds(60)))
      << Logs();
  // w2's REST view lists the copies it keeps.
  const int port = RestPort("w2");
  ASSERT_GT(port, 0) << Logs();
  httplib::Client http("127.0.0.1", port);
  const auto got = http.Get("/shards");
  ASSERT_TRUE(got) << httplib::to_string(got.error());
  const auto kept = nlohmann::json::parse(got->body)["standby-copies"];
  ASSERT_TRUE(kept.is_array()) << got->body;
  EXPECT_TRUE(std::any_of(kept.begin(), kept.end(), [&](const nlohmann::json& c) {
    return c["shard"] == of_w1[0] && c["checkpoint"].get<uint64_t>() >= 1;
  })) << got->body;
  const size_t w2_before = Log("w2").size();
  Kill("w1");
  EXPECT_EQ(WaitExit("w2", std::chrono::seconds(120)), 0) << Logs();
  const std::string w2 = Log("w2").substr(w2_before);
  for (int s : of_w1) {
    EXPECT_NE(w2.find("runs shard " + std::to_string(s) + " at epoch"), std::string::npos)
        << "shard " << s << "\n"
        << Logs();
  }
  EXPECT_NE(w2.find("from its local copy"), std::string::npos) << Logs();
  const Status exact = CheckOutput();
  EXPECT_TRUE(exact.ok()) << exact.message() << "\n" << Logs();
  ExpectShardsVerifyClean();
  // w2 ended gracefully: none of its copies (its runs' or its standby ones) is left.
  const std::string copies =
      tmp_.Sub("local") + "/weir-local-recovery-" + std::to_string(::geteuid());
  for (const auto& e : std::filesystem::directory_iterator(copies)) {
    EXPECT_FALSE(e.path().filename().string().starts_with("agg-w2-")) << e.path();
  }
}

TEST_F(ClusterTest, WorkersAddedAndStoppedGracefullyHandShardsOff) {
  StartWorker("w1");
  ASSERT_TRUE(testing::WaitFor([&] { return AllShardsCheckpointed(); }, std::chrono::seconds(60)))
      << Logs();
  StartWorker("w2");
  StartWorker("w3");
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto view = cluster::ReadClusterView(*client_, "agg");
        return view.ok() && view->members.size() == 3;
      },
      std::chrono::seconds(30)));
  // Each worker serves the cluster view: all three workers, every shard, one leader.
  int port = 0;
  ASSERT_TRUE(
      testing::WaitFor([&] { return (port = RestPort("w2")) > 0; }, std::chrono::seconds(10)));
  httplib::Client http("127.0.0.1", port);
  const auto got = http.Get("/cluster");
  ASSERT_TRUE(got) << httplib::to_string(got.error());
  ASSERT_EQ(got->status, 200) << got->body;
  const auto view = nlohmann::json::parse(got->body);
  EXPECT_EQ(view["job"], "agg");
  EXPECT_EQ(view["served-by"], "w2");
  EXPECT_EQ(view["shards"], kShards);
  EXPECT_EQ(view["workers"].size(), 3u) << got->body;
  EXPECT_EQ(view["shard-states"].size(), static_cast<size_t>(kShards));
  EXPECT_FALSE(view["leader"].is_null());
  const auto page = http.Get("/");
  ASSERT_TRUE(page);
  EXPECT_NE(page->body.find("weir cluster"), std::string::npos);
  EXPECT_EQ(http.Post("/cluster")->status, 405);
  // Its own shards with their jobs' metrics and checkpoint statistics: the shards the cluster
  // view assigns to it, once it runs them.
  std::vector<int> mine;
  for (const auto& w : view["workers"]) {
    if (w["id"] == "w2") mine = w["shards"].get<std::vector<int>>();
  }
  nlohmann::json local;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        const auto answer = http.Get("/shards");
        if (!answer || answer->status != 200) return false;
        local = nlohmann::json::parse(answer->body);
        return local["shards"].size() == mine.size();
      },
      std::chrono::seconds(20)))
      << local.dump();
  EXPECT_EQ(local["worker"], "w2");
  for (const auto& s : local["shards"]) {
    EXPECT_NE(std::find(mine.begin(), mine.end(), s["shard"].get<int>()), mine.end()) << s.dump();
    EXPECT_GE(s["epoch"].get<int>(), 1);
    EXPECT_EQ(s["job"]["name"], "nats-aggregate");
    EXPECT_FALSE(s["job"]["vertices"].empty());
    EXPECT_TRUE(s["checkpoints"].contains("counts")) << s.dump();
    EXPECT_FALSE(s["checkpoints"].contains("history"));
  }
  EXPECT_EQ(http.Delete("/shards")->status, 405);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  kill(workers_["w3"], SIGTERM);  // a graceful stop: its shards are handed off
  EXPECT_EQ(WaitExit("w3", std::chrono::seconds(60)), 143) << Logs();
  EXPECT_NE(Log("w3").find("handed off"), std::string::npos) << Log("w3");
  EXPECT_EQ(WaitExit("w1", std::chrono::seconds(120)), 0) << Logs();
  EXPECT_EQ(WaitExit("w2", std::chrono::seconds(120)), 0) << Logs();
  const Status exact = CheckOutput();
  EXPECT_TRUE(exact.ok()) << exact.message() << "\n" << Logs();
  ExpectShardsVerifyClean();
  ExpectFormerOwnersDirectoriesDeleted();
}

TEST_F(ClusterTest, AJobGivenTwoNamesIsRefused) {
  StartWorker("w1", {"cluster.job=other"});
  EXPECT_EQ(WaitExit("w1", std::chrono::seconds(30)), 1);
  EXPECT_NE(Log("w1").find("cluster.job is 'other' but --job is 'agg'"), std::string::npos)
      << Log("w1");
}

TEST_F(ClusterTest, ASecondKeyByCrossesShardsThroughARepartitionStreamExactlyOnce) {
  // nats-aggregate --groups 7: each event also goes to its group (key mod 7), which most often
  // belongs to another shard: the events cross through the repartition stream agg-groups, one
  // subject per shard, published after the writing shard's checkpoint and read by the group's
  // shard from its checkpointed position. A worker is killed in the middle: both outputs stay
  // exactly-once, and each shard's second half ends once every shard's first half has.
  constexpr uint64_t kGroups = 7;
  job_args_ = {"--groups", std::to_string(kGroups), "--group-output", "GOUT"};
  StartWorker("w1");
  StartWorker("w2");
  StartWorker("w3");
  ASSERT_TRUE(testing::WaitFor([&] { return AllShardsCheckpointed(); }, std::chrono::seconds(60)))
      << Logs();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Kill("w2");
  StartWorker("w4");
  for (const char* id : {"w1", "w3", "w4"}) {
    EXPECT_EQ(WaitExit(id, std::chrono::seconds(120)), 0) << id << "\n" << Logs();
  }
  const Status exact = CheckOutput();
  EXPECT_TRUE(exact.ok()) << exact.message() << "\n" << Logs();
  const Status groups = CheckGroupOutput(kGroups);
  EXPECT_TRUE(groups.ok()) << groups.message() << "\n" << Logs();
  // The repartition stream holds each event once ('R' and the event), and each shard's end
  // marker on every shard's subject ('E<shard>/<subtask>/<parallelism>'; a writer restored after
  // its end sends its markers again, which count once).
  std::istringstream repartitioned(
      WeirOutput("nats dump --server " + nats_.url() + " --stream agg-groups"));
  std::set<std::string> events;
  uint64_t records = 0, markers = 0;
  for (std::string line; std::getline(repartitioned, line);) {
    if (line.rfind('R', 0) == 0) {
      ++records;
      events.insert(line);
    } else if (line.rfind('E', 0) == 0) {
      ++markers;
    }
  }
  EXPECT_EQ(records, kEvents);
  EXPECT_EQ(events.size(), kEvents);  // no event twice (each has its own value)
  EXPECT_GE(markers, static_cast<uint64_t>(kShards * kShards));
  ExpectShardsVerifyClean();
}

}  // namespace
}  // namespace weir::e2e
