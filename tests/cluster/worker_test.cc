// Workers of one job against a real etcd, in one process, with a fake shard job that "checkpoints"
// every 20 ms through the fence: the shards spread evenly with one leader; a killed worker's
// shards move to the others after its lease expires and restart from the last checkpoint it
// recorded; a joining or stopping worker moves shards by handoff (final checkpoint, release, claim)
// well before any lease expires; the leader's loss elects another; bounded shards finish once.
// At no moment do two workers run the same shard.
#include "cluster/worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "testing/etcd_server.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace weir::cluster {
namespace {

constexpr int kShards = 6;
const std::string kRoot = "/ckpt/job/shards";

// What every fake shard job did, over all workers.
struct History {
  std::mutex mu;
  std::map<int, int> running;        // shard -> runs now
  int overlaps = 0;                  // a shard run twice at once
  int premature_deletions = 0;       // a run's files deleted while it may be the newest
  int lost_run_deletions = 0;        // runs superseded whose files were deleted
  std::set<std::string> deaf;        // members whose runs ignore a handoff (a zombie too slow)
  std::map<int, uint64_t> recorded;  // shard -> newest checkpoint the fence accepted
  std::map<int, std::vector<std::pair<int64_t, uint64_t>>> starts;  // shard -> (epoch, restored)
  std::map<int, int> finished;                      // shard -> runs that saw the input end
  std::map<int, int> stopping;                      // shard -> runs being cancelled after a handoff
  int started_while_former_stopped = 0;             // released early: no wait for a cancellation
  std::function<void()> after_final_checkpoint;     // called once, after a handoff's checkpoint
  std::map<std::string, std::set<int>> discarded;   // member -> shards whose local state it dropped
  std::map<std::string, std::set<int>> running_on;  // member -> shards its runs run now
  // shard -> member -> newest checkpoint its standby copy was brought to
  std::map<int, std::map<std::string, uint64_t>> standby_copies;
  int standby_copies_of_running = 0;  // a standby copy made of a shard its member runs
  std::set<std::string> copies_fail;  // members whose standby copies fail
};

class FakeShardJob final : public ShardJob {
 public:
  FakeShardJob(History& h, std::string member, int shard, int64_t epoch, uint64_t restored,
               CheckpointFence fence, int bounded_checkpoints)
      : h_(h),
        member_(std::move(member)),
        shard_(shard),
        epoch_(epoch),
        next_(restored + 1),
        fence_(std::move(fence)),
        bounded_(bounded_checkpoints) {}
  Status Run() override {
    {
      std::lock_guard lock(h_.mu);
      if (++h_.running[shard_] > 1) ++h_.overlaps;
      if (h_.stopping[shard_] > 0) ++h_.started_while_former_stopped;
      h_.running_on[member_].insert(shard_);
    }
    Status result = Loop();
    std::lock_guard lock(h_.mu);
    if (counted_) --h_.running[shard_];
    h_.running_on[member_].erase(shard_);
    return result;
  }
  void StopWithFinalCheckpoint(std::function<void()> stopping) override {
    std::lock_guard lock(h_.mu);
    if (h_.deaf.contains(member_)) return;
    stopping_ = std::move(stopping);
    stop_ = true;
  }
  void Cancel() override { cancel_ = true; }
  bool finished() const override { return finished_; }
  void DeleteLostRunFiles(int64_t recorded_epoch) override {
    std::lock_guard lock(h_.mu);
    // Only a run superseded by a newer owner's recorded checkpoint may delete its files.
    if (recorded_epoch <= epoch_) ++h_.premature_deletions;
    ++h_.lost_run_deletions;
  }

 private:
  Status Checkpoint() {
    const uint64_t id = next_++;
    const std::string path = kRoot + "/" + std::to_string(shard_) + "/e" + std::to_string(epoch_) +
                             "/chk-" + std::to_string(id) + "/_metadata";
    WEIR_RETURN_IF_ERROR(fence_(id, path, /*savepoint=*/false));
    std::lock_guard lock(h_.mu);
    h_.recorded[shard_] = id;
    return Status::OK();
  }
  Status Loop() {
    int taken = 0;
    while (!cancel_) {
      if (stop_) {
        Status s = Checkpoint();
        std::function<void()> hook;
        {
          std::lock_guard lock(h_.mu);
          hook.swap(h_.after_final_checkpoint);
        }
        if (hook) hook();
        // Stopping: it completes nothing more (the next owner may start now), but its
        // cancellation takes a while, as a real job's does.
        {
          std::lock_guard lock(h_.mu);
          --h_.running[shard_];
          counted_ = false;
          ++h_.stopping[shard_];
        }
        stopping_();
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        std::lock_guard lock(h_.mu);
        --h_.stopping[shard_];
        return s;
      }
      if (bounded_ > 0 && taken == bounded_) {
        WEIR_RETURN_IF_ERROR(Checkpoint());  // the final one at the end of the input
        finished_ = true;
        std::lock_guard lock(h_.mu);
        ++h_.finished[shard_];
        return Status::OK();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      WEIR_RETURN_IF_ERROR(Checkpoint());
      ++taken;
    }
    return Status::Aborted("cancelled");
  }
  History& h_;
  std::string member_;
  int shard_;
  int64_t epoch_;
  uint64_t next_;
  CheckpointFence fence_;
  int bounded_;
  std::atomic<bool> stop_{false}, cancel_{false};
  std::function<void()> stopping_;  // set with stop_
  bool counted_ = true;             // in h_.running (guarded by h_.mu)
  bool finished_ = false;
};

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<testing::EtcdServer>(tmp_.Sub("etcd"));
    ASSERT_TRUE(server_->Start().ok());
    auto etcd = EtcdClient::Create(server_->url());
    ASSERT_TRUE(etcd.ok());
    etcd_ = std::move(etcd).value();
  }
  void TearDown() override {
    for (auto& w : workers_) w->Kill();
    EXPECT_EQ(history_.premature_deletions, 0);
  }
  Worker& AddWorker(const std::string& id, std::chrono::seconds ttl = std::chrono::seconds(1),
                    const std::string& lease_file = "") {
    WorkerOptions o;
    o.lease_file = lease_file;
    o.job = "job";
    o.member = id;
    o.shards = kShards;
    o.checkpoint_root = kRoot;
    o.lease_ttl = ttl;
    o.poll_interval = std::chrono::milliseconds(50);
    o.discard_local_state = [this, id](int shard) {
      std::lock_guard lock(history_.mu);
      history_.discarded[id].insert(shard);
    };
    o.standby_replicas = standby_replicas_;
    if (standby_replicas_ > 0) {
      o.keep_standby_copy = [this, id](int shard, const ShardCheckpoint& checkpoint,
                                       const std::atomic<bool>&) {
        std::lock_guard lock(history_.mu);
        if (history_.running_on[id].count(shard) > 0) ++history_.standby_copies_of_running;
        if (history_.copies_fail.count(id) > 0) return Status::IOError("no copy here");
        history_.standby_copies[shard][id] = checkpoint.id;
        return Status::OK();
      };
    }
    auto w = Worker::Create(
        *etcd_, o,
        [this, id](int shard, int64_t epoch, const std::optional<ShardCheckpoint>& restore,
                   CheckpointFence fence) -> Result<std::unique_ptr<ShardJob>> {
          const uint64_t restored = restore ? restore->id : 0;
          {
            std::lock_guard lock(history_.mu);
            history_.starts[shard].push_back({epoch, restored});
          }
          return std::unique_ptr<ShardJob>(std::make_unique<FakeShardJob>(
              history_, id, shard, epoch, restored, std::move(fence), bounded_));
        });
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_TRUE((*w)->Start().ok());
    workers_.push_back(std::move(w).value());
    return *workers_.back();
  }
  // Every shard runs on exactly one of `live`, each with its fair share.
  bool Balanced(const std::vector<Worker*>& live) {
    std::map<int, int> owners;
    size_t lo = kShards / live.size(), hi = (kShards + live.size() - 1) / live.size();
    for (Worker* w : live) {
      const auto mine = w->running_shards();
      if (mine.size() < lo || mine.size() > hi) return false;
      for (int s : mine) ++owners[s];
    }
    if (owners.size() != kShards) return false;
    for (const auto& [s, n] : owners) {
      if (n != 1) return false;
    }
    return true;
  }
  int Leaders(const std::vector<Worker*>& live) {
    int n = 0;
    for (Worker* w : live) n += w->leader() ? 1 : 0;
    return n;
  }

  testing::TempDir tmp_;
  std::unique_ptr<testing::EtcdServer> server_;
  std::unique_ptr<EtcdClient> etcd_;
  std::vector<std::unique_ptr<Worker>> workers_;
  History history_;
  int bounded_ = 0;
  int standby_replicas_ = 0;
};

TEST_F(WorkerTest, AKilledWorkersShardsMoveToTheOthersFromTheirLatestCheckpoint) {
  Worker& a = AddWorker("a");
  Worker& b = AddWorker("b");
  Worker& c = AddWorker("c");
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return Balanced({&a, &b, &c}) && Leaders({&a, &b, &c}) == 1;
      },
      std::chrono::seconds(20)));
  const std::vector<int> lost = b.running_shards();
  ASSERT_EQ(lost.size(), 2u);
  b.Kill();  // as a crash: nothing handed off, the lease expires after 1 s
  std::map<int, uint64_t> last_before;  // the newest checkpoint each lost shard recorded
  {
    std::lock_guard lock(history_.mu);
    for (int s : lost) last_before[s] = history_.recorded[s];
  }
  ASSERT_TRUE(testing::WaitFor([&] { return Balanced({&a, &c}); }, std::chrono::seconds(20)));
  std::lock_guard lock(history_.mu);
  for (int s : lost) {
    const auto& starts = history_.starts[s];
    ASSERT_GE(starts.size(), 2u);
    // The new owner's epoch is higher and it restored the newest checkpoint recorded before.
    EXPECT_GT(starts.back().first, starts[starts.size() - 2].first);
    EXPECT_EQ(starts.back().second, last_before[s]) << "shard " << s;
  }
  EXPECT_EQ(history_.overlaps, 0);
  EXPECT_EQ(Leaders({&a, &c}), 1);
}

TEST_F(WorkerTest, StandbysFollowTheirShardsCheckpointsAndTakeThemOverWhenTheOwnerIsLost) {
  standby_replicas_ = 1;
  Worker& a = AddWorker("a");
  Worker& b = AddWorker("b");
  Worker& c = AddWorker("c");
  ASSERT_TRUE(testing::WaitFor([&] { return Balanced({&a, &b, &c}); }, std::chrono::seconds(20)));
  // Every shard gets one standby, not its owner, which follows its checkpoints.
  ClusterView view;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto v = ReadClusterView(*etcd_, "job");
        if (!v.ok() || v->standbys.size() != kShards) return false;
        view = *v;
        std::lock_guard lock(history_.mu);
        for (int s = 0; s < kShards; ++s) {
          const std::string& standby = view.standbys.at(s).at(0);
          if (view.assignment.at(s) == standby) return false;
          const auto& copies = history_.standby_copies[s];
          if (copies.count(standby) == 0 || copies.at(standby) < 2) return false;
        }
        return true;
      },
      std::chrono::seconds(20)));
  const std::vector<int> lost = b.running_shards();
  ASSERT_EQ(lost.size(), 2u);
  b.Kill();
  ASSERT_TRUE(testing::WaitFor([&] { return Balanced({&a, &c}); }, std::chrono::seconds(20)));
  auto after = ReadClusterView(*etcd_, "job");
  ASSERT_TRUE(after.ok());
  // A lost shard goes to its standby (both do, unless one member is the standby of both and
  // would then hold more than its share).
  int to_standby = 0;
  for (int s : lost) to_standby += after->assignment.at(s) == view.standbys.at(s).at(0) ? 1 : 0;
  const bool same_standby = view.standbys.at(lost[0]) == view.standbys.at(lost[1]);
  EXPECT_EQ(to_standby, same_standby ? 1 : 2);
  // The standbys left are live members other than the owners.
  for (const auto& [s, members] : after->standbys) {
    for (const auto& m : members) {
      EXPECT_NE(m, "b");
      EXPECT_NE(m, after->assignment.at(s));
    }
  }
  std::lock_guard lock(history_.mu);
  EXPECT_EQ(history_.standby_copies_of_running, 0);
  EXPECT_EQ(history_.overlaps, 0);
}

TEST_F(WorkerTest, AJoiningWorkerGetsAShardOnlyOnceItsStandbyCopyOfItIsCurrent) {
  standby_replicas_ = 1;
  Worker& a = AddWorker("a");
  Worker& b = AddWorker("b");
  ASSERT_TRUE(testing::WaitFor([&] { return Balanced({&a, &b}); }, std::chrono::seconds(20)));
  {
    std::lock_guard lock(history_.mu);
    history_.copies_fail.insert("c");
  }
  Worker& c = AddWorker("c");
  // c is a standby of the shards it is to get, but gets none while it has no copy of them.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto v = ReadClusterView(*etcd_, "job");
        if (!v.ok()) return false;
        int of_c = 0;
        for (const auto& [s, members] : v->standbys) {
          of_c += std::count(members.begin(), members.end(), "c");
        }
        return of_c >= 2;
      },
      std::chrono::seconds(20)));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_TRUE(c.running_shards().empty());
  EXPECT_TRUE(Balanced({&a, &b}));
  {
    std::lock_guard lock(history_.mu);
    history_.copies_fail.clear();
  }
  // Its copies made (at the next checkpoint of each shard), the shards move.
  EXPECT_TRUE(testing::WaitFor([&] { return Balanced({&a, &b, &c}); }, std::chrono::seconds(20)));
  std::lock_guard lock(history_.mu);
  EXPECT_EQ(history_.overlaps, 0);
  EXPECT_EQ(history_.standby_copies_of_running, 0);
}

TEST_F(WorkerTest, ARunThatLostItsShardDeletesItsFilesOnlyOnceANewerOwnerCheckpointed) {
  // a's lease of 30 s is renewed every 10 s: revoked behind its back, a runs on as a zombie
  // while b claims and checkpoints its shards; a's fences are refused, then it notices.
  Worker& a = AddWorker("a", std::chrono::seconds(30));
  ASSERT_TRUE(testing::WaitFor([&] { return Balanced({&a}); }, std::chrono::seconds(20)));
  Worker& b = AddWorker("b");
  ASSERT_TRUE(testing::WaitFor([&] { return Balanced({&a, &b}); }, std::chrono::seconds(20)));
  const size_t lost = a.running_shards().size();
  {
    // Deterministic: otherwise a could hand a shard off with a final checkpoint that still passes
    // the fence (b not claimed yet), and that run lost nothing.
    std::lock_guard lock(history_.mu);
    history_.deaf.insert("a");
  }
  auto member = etcd_->Get("/weir/job/members/a");
  ASSERT_TRUE(member.ok() && member->has_value());
  ASSERT_TRUE(etcd_->RevokeLease((*member)->lease).ok());
  ASSERT_TRUE(testing::WaitFor([&] { return Balanced({&b}); }, std::chrono::seconds(20)));
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        std::lock_guard lock(history_.mu);
        return history_.lost_run_deletions >= static_cast<int>(lost);
      },
      std::chrono::seconds(20)));
  // (The zombie ran beside b until it noticed: overlaps are what the fence is for.)
  std::lock_guard lock(history_.mu);
  EXPECT_EQ(history_.premature_deletions, 0);
}

TEST_F(WorkerTest, AProcessRestartedWithinItsLeaseKeepsItsShards) {
  const std::string lease_file = tmp_.Sub("a.lease");
  Worker& a = AddWorker("a", std::chrono::seconds(10), lease_file);
  Worker& b = AddWorker("b");
  ASSERT_TRUE(testing::WaitFor([&] { return Balanced({&a, &b}); }, std::chrono::seconds(20)));
  const std::vector<int> kept = a.running_shards();
  a.Kill();  // a crash: the lease (10 s) lives on, its id in the file
  ASSERT_TRUE(std::filesystem::exists(lease_file));
  const auto restarted_at = std::chrono::steady_clock::now();
  Worker& again = AddWorker("a", std::chrono::seconds(10), lease_file);
  ASSERT_TRUE(testing::WaitFor([&] { return Balanced({&again, &b}); }, std::chrono::seconds(20)));
  // Long before the lease could have expired: the same shards, on the same member, each claimed
  // again at the next epoch and restored from its newest checkpoint; b never ran them.
  EXPECT_LT(std::chrono::steady_clock::now() - restarted_at, std::chrono::seconds(8));
  EXPECT_EQ(again.running_shards(), kept);
  std::lock_guard lock(history_.mu);
  for (int s : kept) {
    const auto& starts = history_.starts[s];
    ASSERT_GE(starts.size(), 2u) << "shard " << s;
    EXPECT_EQ(starts.back().first, starts[starts.size() - 2].first + 1) << "shard " << s;
  }
  EXPECT_EQ(history_.overlaps, 0);
}

TEST_F(WorkerTest, ARestartedProcessReleasesTheShardsItsFormerProcessHeldForOthers) {
  // b leads (a long lease); a (lease file) runs half the shards and dies. c joins while a is
  // dead: the leader gives c one of a's shards, which nobody can claim while a's lease lives.
  // a comes back within its lease: it keeps the shards assigned to it and releases that one.
  Worker& b = AddWorker("b", std::chrono::seconds(30));
  ASSERT_TRUE(testing::WaitFor([&] { return Balanced({&b}); }, std::chrono::seconds(20)));
  const std::string lease_file = tmp_.Sub("a.lease");
  Worker& a = AddWorker("a", std::chrono::seconds(30), lease_file);
  ASSERT_TRUE(testing::WaitFor([&] { return Balanced({&a, &b}); }, std::chrono::seconds(20)));
  a.Kill();
  Worker& c = AddWorker("c");
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto view = ReadClusterView(*etcd_, "job");
        if (!view.ok()) return false;
        int to_c = 0;
        for (const auto& [shard, member] : view->assignment) to_c += member == "c" ? 1 : 0;
        return to_c == 2;  // 6 shards over a, b and c
      },
      std::chrono::seconds(20)));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_LT(c.running_shards().size(), 2u);  // one of them is still held by a's lease
  {
    std::lock_guard lock(history_.mu);
    history_.discarded.clear();
  }
  Worker& again = AddWorker("a", std::chrono::seconds(30), lease_file);
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        return Balanced({&again, &b, &c});
      },
      std::chrono::seconds(10)));
  // Its local state of the shard it released goes (no run here will use it), and so does that
  // of every other shard it does not run (its former process may have died before a finished or
  // handed-off run deleted its copies); not that of the shards it kept.
  const std::vector<int> kept = again.running_shards();
  std::lock_guard lock(history_.mu);
  EXPECT_EQ(history_.discarded["a"].size(), kShards - kept.size());
  for (int k : kept) EXPECT_EQ(history_.discarded["a"].count(k), 0u) << "shard " << k;
}

TEST_F(WorkerTest, AStopRevokesTheLeaseAndRemovesItsFile) {
  const std::string lease_file = tmp_.Sub("a.lease");
  Worker& a = AddWorker("a", std::chrono::seconds(10), lease_file);
  ASSERT_TRUE(testing::WaitFor([&] { return Balanced({&a}); }, std::chrono::seconds(20)));
  ASSERT_TRUE(std::filesystem::exists(lease_file));
  a.Stop();
  EXPECT_FALSE(std::filesystem::exists(lease_file));
}

TEST_F(WorkerTest, ALeaseFileThatHoldsNoLiveLeaseGetsANewLease) {
  const std::string lease_file = tmp_.Sub("a.lease");
  for (const char* content :
       {"not a number\n", "-5\n", "99999999999999999999999\n", "12345\n" /* no such lease */}) {
    std::ofstream(lease_file) << content;
    Worker& a = AddWorker("a", std::chrono::seconds(10), lease_file);
    ASSERT_TRUE(testing::WaitFor([&] { return Balanced({&a}); }, std::chrono::seconds(20)))
        << content;
    {
      // A new lease: what a former process kept locally for any shard is of no further use.
      std::lock_guard lock(history_.mu);
      EXPECT_EQ(history_.discarded["a"].size(), static_cast<size_t>(kShards)) << content;
      history_.discarded.clear();
    }
    std::ifstream in(lease_file);
    int64_t written = 0;
    in >> written;
    EXPECT_GT(written, 0) << content;
    EXPECT_NE(written, 12345) << content;
    a.Stop();
  }
}

TEST_F(WorkerTest, JoiningAndStoppingWorkersHandShardsOffWithoutWaitingForALease) {
  // Leases of 30 s: every move below must be a handoff, never an expiry.
  const auto ttl = std::chrono::seconds(30);
  Worker& a = AddWorker("a", ttl);
  Worker& b = AddWorker("b", ttl);
  ASSERT_TRUE(testing::WaitFor([&] { return Balanced({&a, &b}); }, std::chrono::seconds(20)));
  Worker& c = AddWorker("c", ttl);
  ASSERT_TRUE(testing::WaitFor([&] { return Balanced({&a, &b, &c}); }, std::chrono::seconds(10)));
  {
    // Each moved shard restarted from the final checkpoint of its previous owner: its restored
    // id is the newest that epoch recorded.
    std::lock_guard lock(history_.mu);
    for (int s : c.running_shards()) {
      const auto& starts = history_.starts[s];
      ASSERT_GE(starts.size(), 2u) << s;
      EXPECT_EQ(starts.back().first, starts[starts.size() - 2].first + 1) << s;
      EXPECT_GE(starts.back().second, 1u) << s;
    }
  }
  const auto stop_start = std::chrono::steady_clock::now();
  c.Stop();
  ASSERT_TRUE(testing::WaitFor([&] { return Balanced({&a, &b}); }, std::chrono::seconds(10)));
  EXPECT_LT(std::chrono::steady_clock::now() - stop_start, std::chrono::seconds(10));
  std::lock_guard lock(history_.mu);
  EXPECT_EQ(history_.overlaps, 0);
  // A shard is released once its handoff checkpoint is done, not once its run has been cancelled
  // (300 ms here): the next owner started while its former run was still stopping.
  EXPECT_GT(history_.started_while_former_stopped, 0);
}

TEST_F(WorkerTest, TheLeadersLossElectsAnotherThatReassigns) {
  Worker& a = AddWorker("a");
  ASSERT_TRUE(
      testing::WaitFor([&] { return a.leader() && Balanced({&a}); }, std::chrono::seconds(20)));
  Worker& b = AddWorker("b");
  ASSERT_TRUE(testing::WaitFor([&] { return Balanced({&a, &b}); }, std::chrono::seconds(20)));
  EXPECT_TRUE(a.leader());
  EXPECT_FALSE(b.leader());
  a.Kill();
  ASSERT_TRUE(
      testing::WaitFor([&] { return b.leader() && Balanced({&b}); }, std::chrono::seconds(20)));
  auto view = ReadClusterView(*etcd_, "job");
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  EXPECT_EQ(view->shards, kShards);
  EXPECT_EQ(view->checkpoint_root, kRoot);
  EXPECT_EQ(view->leader, "b");
  ASSERT_EQ(view->members.size(), 1u);
  for (const auto& [s, m] : view->assignment) EXPECT_EQ(m, "b");
  for (const ShardState& s : view->shards_state) {
    EXPECT_EQ(s.owner, "b");
    EXPECT_TRUE(s.checkpoint.has_value());
  }
}

TEST_F(WorkerTest, BoundedShardsFinishOnceAndAreNotClaimedAgain) {
  bounded_ = 5;
  Worker& a = AddWorker("a");
  Worker& b = AddWorker("b");
  ASSERT_TRUE(a.WaitUntilJobFinished(std::chrono::seconds(30)));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a few more polls
  EXPECT_TRUE(a.running_shards().empty());
  EXPECT_TRUE(b.running_shards().empty());
  std::lock_guard lock(history_.mu);
  for (int s = 0; s < kShards; ++s) EXPECT_EQ(history_.finished[s], 1) << s;
  EXPECT_EQ(history_.overlaps, 0);
}

// etcd goes down right after a handoff's final checkpoint: the release fails. The shard must not
// stay owned by a process that no longer runs it (its lease lives on, so the new owner could
// never claim it): the release is tried again until etcd hears it.
TEST_F(WorkerTest, AReleaseThatEtcdMissedIsTriedAgain) {
  Worker& a = AddWorker("a", std::chrono::seconds(10));
  ASSERT_TRUE(testing::WaitFor([&] { return Balanced({&a}); }, std::chrono::seconds(20)));
  std::thread restart;
  {
    std::lock_guard lock(history_.mu);
    history_.after_final_checkpoint = [this, &restart] {
      server_->Kill();
      restart = std::thread([this] {
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        EXPECT_TRUE(server_->Start().ok());
      });
    };
  }
  Worker& b = AddWorker("b", std::chrono::seconds(10));
  const bool balanced = testing::WaitFor(
      [&] {
        return Balanced({&a, &b});
      },
      std::chrono::seconds(30));
  if (restart.joinable()) restart.join();
  EXPECT_TRUE(balanced) << "a runs " << a.running_shards().size() << ", b runs "
                        << b.running_shards().size();
  std::lock_guard lock(history_.mu);
  EXPECT_EQ(history_.overlaps, 0);
}

TEST_F(WorkerTest, TheShardCountIsFixedAtTheJobsFirstStart) {
  AddWorker("a");
  WorkerOptions o;
  o.job = "job";
  o.member = "b";
  o.shards = kShards + 1;
  o.checkpoint_root = kRoot;
  o.lease_ttl = std::chrono::seconds(1);
  o.poll_interval = std::chrono::milliseconds(50);
  auto other = Worker::Create(*etcd_, o,
                              [](int, int64_t, const std::optional<ShardCheckpoint>&,
                                 CheckpointFence) -> Result<std::unique_ptr<ShardJob>> {
                                return Status::Internal("never asked");
                              });
  ASSERT_TRUE(other.ok());
  Status s = (*other)->Start();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("fixed at its first start"), std::string::npos) << s.ToString();
  EXPECT_EQ(ReadClusterView(*etcd_, "other").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(etcd_->Put("/weir/crafted/settings", "{\"shards\": -3}").ok());
  EXPECT_EQ(ReadClusterView(*etcd_, "crafted").status().code(), StatusCode::kCorruption);
}

TEST(WorkerOptionsTest, BadOptionsAreOneClearError) {
  auto etcd = EtcdClient::Create("etcd://127.0.0.1:1");
  ASSERT_TRUE(etcd.ok());
  const ShardJobFactory none = [](int, int64_t, const std::optional<ShardCheckpoint>&,
                                  CheckpointFence) -> Result<std::unique_ptr<ShardJob>> {
    return Status::Internal("unused");
  };
  WorkerOptions o;
  o.job = "job";
  o.member = "w-1";
  o.shards = 4;
  o.checkpoint_root = "/ckpt";
  o.lease_ttl = std::chrono::seconds(5);
  o.poll_interval = std::chrono::milliseconds(100);
  EXPECT_TRUE(Worker::Create(**etcd, o, none).ok());
  auto bad = o;
  bad.member = "a/b";
  EXPECT_EQ(Worker::Create(**etcd, bad, none).status().code(), StatusCode::kInvalidArgument);
  bad = o;
  bad.shards = 0;
  EXPECT_EQ(Worker::Create(**etcd, bad, none).status().code(), StatusCode::kInvalidArgument);
  bad = o;
  bad.job = "../x";
  EXPECT_EQ(Worker::Create(**etcd, bad, none).status().code(), StatusCode::kInvalidArgument);
  bad = o;
  bad.lease_ttl = std::chrono::seconds(0);
  EXPECT_EQ(Worker::Create(**etcd, bad, none).status().code(), StatusCode::kInvalidArgument);
  bad = o;
  bad.standby_replicas = -1;
  EXPECT_EQ(Worker::Create(**etcd, bad, none).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace weir::cluster
