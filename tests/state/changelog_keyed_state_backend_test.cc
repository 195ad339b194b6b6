// Changelog checkpoints (state/changelog/changelog_keyed_state_backend.h) over both backends:
// every checkpoint, taken while the task keeps writing, restores to exactly the state at its
// synchronous part, whether it is the log alone, a materialization plus the log after it, or a
// materialization of its own (after a restore); restores at other parallelisms take their key
// groups only; materialization failures are tolerated up to the configured number.
#include "state/changelog/changelog_keyed_state_backend.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <thread>

#include "checkpoint/checkpoint_coordinator.h"
#include "common/failpoint.h"
#include "state_model.h"
#include "testing/backend_maker.h"
#include "testing/checkpoint_helpers.h"

namespace weir {
namespace {

// Whether a changelog handle references a materialization: one key-group stream (the hashmap
// backend), or an incremental one's native files (RocksDB).
bool HasMaterialization(const KeyedStateHandle& h) {
  int streams = 0, native = 0;
  for (const auto& f : h.files) {
    if (f.role != StateFileRole::kMaterialization) continue;
    ++(f.local_name.empty() ? streams : native);
  }
  return (streams == 1) != (native > 0);
}

// The SSTs a handle references: their paths by RocksDB's name.
std::map<std::string, std::string> Ssts(const KeyedStateHandle& h) {
  std::map<std::string, std::string> out;
  for (const auto& f : h.files) {
    if (f.role == StateFileRole::kShared) out[f.local_name] = f.path;
  }
  return out;
}

class ChangelogBackendTest : public testing::BackendMaker,
                             public testing::StateModel,
                             public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(config_.Set("state.backend.changelog.enabled", "true").ok());
    ASSERT_TRUE(config_.Set("dstl.dfs.batch.persist-delay", "1 ms").ok());
  }
  void TearDown() override { Failpoints::Instance().ClearAll(); }

  // A checkpoint while the task goes on writing: the handle, and the model at its sync part.
  std::pair<KeyedStateHandle, Model> Checkpoint(CheckpointableKeyedStateBackend& b, const States& s,
                                                Model& model, std::mt19937_64& rng, uint64_t id) {
    auto part = b.Snapshot(id);
    EXPECT_TRUE(part.ok()) << part.status().ToString();
    if (!part.ok()) return {};
    const Model at_barrier = model;
    Result<KeyedStateHandle> handle = Status::Internal("not run");
    std::thread async([&] { handle = (*part)->Run(); });
    for (int i = 0; i < 500; ++i) RandomOp(b, s, model, rng, 400);
    async.join();
    EXPECT_TRUE(handle.ok()) << handle.status().ToString();
    if (!handle.ok()) return {};
    b.NotifyCheckpointComplete(id);
    return {*handle, at_barrier};
  }
  Result<std::unique_ptr<CheckpointableKeyedStateBackend>> Restore(
      const std::vector<KeyedStateHandle>& handles, uint64_t id, const std::string& backend_id,
      KeyGroupRange range) {
    KeyedStateRestore restore{&storage_, id, handles, false};
    KeyedStateBackendParameters p;
    p.backend_id = backend_id;
    p.local_dir = tmp_.Sub("restore-" + std::to_string(made_++));
    p.max_parallelism = 128;
    p.key_group_range = range;
    p.config = &config_;
    p.checkpoint_storage = &storage_;
    p.io_pool = &pool_;
    if (config_.Get(config::kChangelogEnabled)) p.changelog_writer = changelog_writer_;
    return CreateKeyedStateBackend(GetParam(), p, &restore);
  }
};

// Checkpoints of the log alone (no materialization for 10 minutes) and checkpoints over
// materializations begun at every checkpoint each restore to their synchronous part's state,
// into a backend with the changelog on and into one with it off.
TEST_P(ChangelogBackendTest, EveryCheckpointRestoresToItsSynchronousPart) {
  for (const char* interval : {"10 min", "0 ms"}) {
    SCOPED_TRACE(interval);
    ASSERT_TRUE(
        config_.Set("state.backend.changelog.periodic-materialize.interval", interval).ok());
    const std::string id = std::string("op_") + (interval[0] == '1' ? "0" : "1");
    auto made = Make(GetParam(), id, nullptr);
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    auto& b = static_cast<ChangelogKeyedStateBackend&>(**made);
    const States s = Register(b);
    Model model;
    std::mt19937_64 rng(5);
    const uint64_t first = interval[0] == '1' ? 1 : 101;
    for (uint64_t cp = first; cp < first + 6; ++cp) {
      for (int i = 0; i < 1500; ++i) RandomOp(b, s, model, rng, 400);
      auto [handle, at_barrier] = Checkpoint(b, s, model, rng, cp);
      if (HasFailure()) return;
      EXPECT_EQ(handle.kind, BackendSnapshotKind::kChangelog);
      for (const bool changelog_on : {true, false}) {
        ASSERT_TRUE(
            config_.Set("state.backend.changelog.enabled", changelog_on ? "true" : "false").ok());
        auto restored = Restore({handle}, cp, id, KeyGroupRange::Of(0, 127));
        ASSERT_TRUE(restored.ok()) << restored.status().ToString();
        Check(**restored, at_barrier);
        if (HasFailure()) return;
      }
      ASSERT_TRUE(config_.Set("state.backend.changelog.enabled", "true").ok());
      // Let a background materialization finish, so that a later checkpoint builds on it.
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (interval[0] == '0') {
      EXPECT_GE(b.materializations(), 2u);
      EXPECT_GT(b.materialized_sequence(), 0u);
    } else {
      EXPECT_EQ(b.materializations(), 0u);
    }
  }
}

// A restored backend's first checkpoint is a materialization of its own (the log it was restored
// from is the old job's); later ones build on it and restore again, across two restores.
TEST_P(ChangelogBackendTest, ARestoredBackendMaterializesInItsFirstCheckpoint) {
  auto made = Make(GetParam(), "op_0", nullptr);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  Model model;
  std::mt19937_64 rng(9);
  KeyedStateHandle handle;
  {
    const States s = Register(**made);
    for (int i = 0; i < 2000; ++i) RandomOp(**made, s, model, rng, 400);
    auto [h, at] = Checkpoint(**made, s, model, rng, 1);
    handle = h;
    model = at;
  }
  made->reset();
  uint64_t id = 1;
  for (int generation = 0; generation < 2; ++generation) {
    auto restored = Restore({handle}, id, "op_0", KeyGroupRange::Of(0, 127));
    ASSERT_TRUE(restored.ok()) << restored.status().ToString();
    const States s = Register(**restored);
    for (int i = 0; i < 1000; ++i) RandomOp(**restored, s, model, rng, 400);
    auto [first, at_first] = Checkpoint(**restored, s, model, rng, ++id);
    ASSERT_FALSE(HasFailure());
    for (const auto& f : first.files) EXPECT_EQ(f.written_by_checkpoint, 0u) << f.path;
    EXPECT_TRUE(HasMaterialization(first));
    EXPECT_EQ(first.materialized_sequence, first.changelog_sequence);
    for (int i = 0; i < 1000; ++i) RandomOp(**restored, s, model, rng, 400);
    auto [second, at_second] = Checkpoint(**restored, s, model, rng, ++id);
    ASSERT_FALSE(HasFailure());
    EXPECT_FALSE(second.changelog.empty());
    handle = second;
    model = at_second;
  }
  auto last = Restore({handle}, id, "op_0", KeyGroupRange::Of(0, 127));
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  Check(**last, model);
}

// Rescaled: two backends restored from one changelog checkpoint take the changes of their own
// key groups, and one backend restored from two takes both.
TEST_P(ChangelogBackendTest, RescaledRestoresReplayTheirKeyGroupsOnly) {
  auto made = Make(GetParam(), "op_0", nullptr);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  const States s = Register(**made);
  Model model;
  std::mt19937_64 rng(13);
  for (int i = 0; i < 3000; ++i) RandomOp(**made, s, model, rng, 400);
  auto [handle, at] = Checkpoint(**made, s, model, rng, 1);
  ASSERT_FALSE(HasFailure());
  std::vector<KeyedStateHandle> halves;
  const KeyGroupRange ranges[] = {KeyGroupRange::Of(0, 63), KeyGroupRange::Of(64, 127)};
  for (int i = 0; i < 2; ++i) {
    auto half = Restore({handle}, 1, "op_half_" + std::to_string(i), ranges[i]);
    ASSERT_TRUE(half.ok()) << half.status().ToString();
    Check(**half, at);
    const States hs = Register(**half);
    Model m = at;
    for (int j = 0; j < 300; ++j) {
      const uint64_t k = rng() % 400;
      std::string bytes;
      if (!Owns(**half, k, &bytes)) continue;
      ASSERT_TRUE((*half)->SetCurrentKey(bytes).ok());
      ASSERT_TRUE(hs.value->Update(static_cast<int64_t>(j)).ok());
      m[k].value = j;
    }
    auto [h, at_half] = Checkpoint(**half, hs, m, rng, 2);
    ASSERT_FALSE(HasFailure());
    halves.push_back(h);
    for (const auto& [k, km] : at_half) {
      std::string bytes;
      if (Owns(**half, k, &bytes)) at[k] = km;
    }
  }
  auto whole = Restore(halves, 2, "op_0", KeyGroupRange::Of(0, 127));
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  Check(**whole, at);
}

// Materializations that fail are retried; checkpoints go on over the last good one until more
// than max-failures-allowed failed in a row, and recover once one succeeds.
TEST_P(ChangelogBackendTest, MaterializationFailuresAreToleratedUpToTheLimit) {
  ASSERT_TRUE(config_.Set("state.backend.changelog.periodic-materialize.interval", "0 ms").ok());
  ASSERT_TRUE(config_.Set("state.backend.changelog.max-failures-allowed", "1").ok());
  auto made = Make(GetParam(), "op_0", nullptr);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  auto& b = static_cast<ChangelogKeyedStateBackend&>(**made);
  const States s = Register(b);
  Model model;
  std::mt19937_64 rng(17);
  Failpoints::Instance().Set("changelog.materialize", FailpointAction::kError);
  uint64_t id = 0;
  int failed = 0;
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 500; ++j) RandomOp(b, s, model, rng, 400);
    auto part = b.Snapshot(++id);
    if (!part.ok()) {
      ++failed;
      EXPECT_NE(part.status().message().find("materializations failed in a row"), std::string::npos)
          << part.status().ToString();
    } else {
      auto h = (*part)->Run();
      ASSERT_TRUE(h.ok()) << h.status().ToString();
      b.NotifyCheckpointComplete(id);
    }
    // The attempt (and its retries, about 0.4 s) ends before the next checkpoint collects it.
    std::this_thread::sleep_for(std::chrono::milliseconds(900));
  }
  EXPECT_GE(failed, 1);
  EXPECT_EQ(b.materializations(), 0u);
  Failpoints::Instance().ClearAll();
  Result<KeyedStateHandle> last = Status::Internal("none");
  for (int i = 0; i < 4 && b.materializations() == 0; ++i) {
    auto part = b.Snapshot(++id);
    if (part.ok()) {
      last = (*part)->Run();
      ASSERT_TRUE(last.ok()) << last.status().ToString();
      b.NotifyCheckpointComplete(id);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GE(b.materializations(), 1u);
  auto part = b.Snapshot(++id);
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  auto h = (*part)->Run();
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  auto restored = Restore({*h}, id, "op_0", KeyGroupRange::Of(0, 127));
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  Check(**restored, model);
}

// Log files and materializations are written outside any checkpoint: an aborted checkpoint that
// referenced them (acknowledged by one of its tasks, or acknowledged late) deletes none of them,
// and the next checkpoint, which references them again, completes and restores.
TEST_P(ChangelogBackendTest, AnAbortedCheckpointDeletesNoFileALaterOneNeeds) {
  // No materialization: every checkpoint needs every log file written so far.
  CheckpointCoordinator coordinator(storage_, CoordinatorOptions{"job", 1, {}});
  ASSERT_TRUE(coordinator.Recover().ok());
  auto made = Make(GetParam(), "op_0", nullptr);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  CheckpointableKeyedStateBackend& b = **made;
  coordinator.AddListener(&b);
  const States s = Register(b);
  Model model;
  std::mt19937_64 rng(23);
  const auto snapshot = [&](uint64_t id) {
    auto part = b.Snapshot(id);
    EXPECT_TRUE(part.ok()) << part.status().ToString();
    auto h = (*part)->Run();
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    return *h;
  };
  const auto now = [] { return int64_t{1764000000000}; };
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 1500; ++i) RandomOp(b, s, model, rng, 400);
    // Aborted after one of its two tasks acknowledged.
    auto partial =
        coordinator.StartCheckpoint(CheckpointKind::kChangelog, {"op_0", "other"}, now());
    ASSERT_TRUE(partial.ok());
    const KeyedStateHandle partial_handle = snapshot(*partial);
    auto ack = coordinator.Acknowledge(*partial, partial_handle, now());
    ASSERT_TRUE(ack.ok() && !ack->has_value()) << ack.status().ToString();
    ASSERT_TRUE(coordinator.Abort(*partial, "declined by other"));
    // Aborted before its acknowledgement arrived.
    auto late = coordinator.StartCheckpoint(CheckpointKind::kChangelog, {"op_0"}, now());
    ASSERT_TRUE(late.ok());
    const KeyedStateHandle late_handle = snapshot(*late);
    ASSERT_TRUE(coordinator.Abort(*late, "expired"));
    EXPECT_FALSE(coordinator.Acknowledge(*late, late_handle, now()).ok());
    coordinator.WaitForCompletions();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the cleaner's deletions
    // The next one completes over the same files.
    auto next = coordinator.StartCheckpoint(CheckpointKind::kChangelog, {"op_0"}, now());
    ASSERT_TRUE(next.ok());
    const KeyedStateHandle handle = snapshot(*next);
    auto done = coordinator.Acknowledge(*next, handle, now());
    ASSERT_TRUE(done.ok() && done->has_value()) << done.status().ToString();
    for (const auto& f : handle.files) {
      EXPECT_TRUE(std::filesystem::exists(*storage_.ResolveRelative(f.path))) << f.path;
    }
    auto restored = Restore({handle}, *next, "op_0", KeyGroupRange::Of(0, 127));
    ASSERT_TRUE(restored.ok()) << restored.status().ToString();
    Check(**restored, model);
  }
}

// A log file that is missing, truncated or has a flipped byte fails the restore with one error
// that names the checkpoint and the file.
TEST_P(ChangelogBackendTest, ADamagedLogFileFailsTheRestoreNamingIt) {
  auto made = Make(GetParam(), "op_0", nullptr);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  const States s = Register(**made);
  Model model;
  std::mt19937_64 rng(29);
  for (int i = 0; i < 2000; ++i) RandomOp(**made, s, model, rng, 400);
  auto [handle, at] = Checkpoint(**made, s, model, rng, 7);
  ASSERT_FALSE(HasFailure());
  ASSERT_FALSE(handle.changelog.empty());
  const std::string log = *storage_.ResolveRelative(handle.changelog.back().path);
  const std::string intact = tmp_.Sub("intact.dstl");
  std::filesystem::copy_file(log, intact);
  const std::vector<std::function<void()>> damages = {
      [&] { testing::FlipByte(log, testing::FileSize(log) / 2); },
      [&] { testing::Truncate(log, testing::FileSize(log) - 3); },
      [&] { std::filesystem::remove(log); },
  };
  for (const auto& damage : damages) {
    damage();
    auto restored = Restore({handle}, 7, "op_0", KeyGroupRange::Of(0, 127));
    ASSERT_FALSE(restored.ok());
    EXPECT_NE(restored.status().message().find("checkpoint 7"), std::string::npos)
        << restored.status().ToString();
    EXPECT_NE(restored.status().message().find(handle.changelog.back().path), std::string::npos)
        << restored.status().ToString();
    std::filesystem::copy_file(intact, log, std::filesystem::copy_options::overwrite_existing);
  }
  auto restored = Restore({handle}, 7, "op_0", KeyGroupRange::Of(0, 127));
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  Check(**restored, at);
}

INSTANTIATE_TEST_SUITE_P(State, ChangelogBackendTest, ::testing::Values("rocksdb", "hashmap"),
                         [](const auto& info) { return info.param; });

// RocksDB's materializations are incremental: each uploads only the SSTs that the latest
// confirmed one (one a completed checkpoint referenced) did not, and references the rest; its
// private files lie in shared/, written outside any checkpoint. One that no completed checkpoint
// referenced is never built on, and a full checkpoint's own materialization reuses nothing.
class ChangelogIncrementalMaterializationTest : public testing::BackendMaker,
                                                public testing::StateModel,
                                                public ::testing::Test {};

TEST_F(ChangelogIncrementalMaterializationTest, BuildsOnlyOnConfirmedMaterializations) {
  ASSERT_TRUE(config_.Set("state.backend.changelog.enabled", "true").ok());
  ASSERT_TRUE(config_.Set("dstl.dfs.batch.persist-delay", "1 ms").ok());
  ASSERT_TRUE(config_.Set("state.backend.changelog.periodic-materialize.interval", "0 ms").ok());
  // No compaction: every SST a materialization holds lives on, so what each reuses is exact.
  ASSERT_TRUE(config_.Set("state.backend.rocksdb.compaction.level0-file-num-trigger", "100").ok());
  auto made = Make("rocksdb", "op_0", nullptr);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  auto& b = static_cast<ChangelogKeyedStateBackend&>(**made);
  const States s = Register(b);
  Model model;
  std::mt19937_64 rng(31);
  uint64_t id = 0;
  // Checkpoint `id` rests on the materialization started at `id - 1` (each ends well before
  // the next checkpoint) and starts one; completing it confirms the one it rests on.
  const auto checkpoint = [&](bool complete, const CheckpointOptions& options) {
    for (int i = 0; i < 3000; ++i) RandomOp(b, s, model, rng, 5000);
    auto part = b.Snapshot(++id, options);
    EXPECT_TRUE(part.ok()) << part.status().ToString();
    if (!part.ok()) return KeyedStateHandle{};
    auto h = (*part)->Run();
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    if (complete) b.NotifyCheckpointComplete(id);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    if (!h.ok()) return KeyedStateHandle{};
    for (const auto& f : h->files) {
      EXPECT_TRUE(f.path.starts_with("shared/")) << f.path;
      if (f.role == StateFileRole::kMaterialization) {
        EXPECT_FALSE(f.local_name.empty()) << f.path;
        EXPECT_EQ(f.written_by_checkpoint, 0u) << f.path;
      }
    }
    return *h;
  };
  // How many SSTs `a` takes from `from` (the same file under the same path), and how many it
  // has under RocksDB's name of one of `from` but uploaded again.
  const auto reused = [](const std::map<std::string, std::string>& a,
                         const std::map<std::string, std::string>& from) {
    std::pair<size_t, size_t> n;
    for (const auto& [name, path] : a) {
      const auto it = from.find(name);
      if (it != from.end()) ++(it->second == path ? n.first : n.second);
    }
    return n;
  };
  checkpoint(true, CheckpointOptions::Checkpoint());     // 1: the log alone; starts M1
  std::vector<std::map<std::string, std::string>> m(1);  // m[k]: the SSTs of materialization k
  // 2..6 rest on M1..M5; 4 is never completed, so M3 is never confirmed.
  for (const bool complete : {true, true, false, true, true}) {
    const KeyedStateHandle h = checkpoint(complete, CheckpointOptions::Checkpoint());
    ASSERT_FALSE(HasFailure());
    ASSERT_TRUE(HasMaterialization(h));
    EXPECT_FALSE(h.materialization_states.empty());
    m.push_back(Ssts(h));
    ASSERT_FALSE(m.back().empty());
  }
  // M2 began before M1 was confirmed (at 2's completion): it reuses nothing. M3 began after:
  // it reuses every SST of M1 it holds and none of M2's. M4 and M5 build on M2 (M3 never
  // confirmed; M4 confirmed after M5 began): they reuse M2's SSTs and none of M3's.
  EXPECT_EQ(reused(m[2], m[1]).first, 0u);
  EXPECT_EQ(reused(m[3], m[1]).second, 0u);
  EXPECT_EQ(reused(m[3], m[2]).first, 0u);
  EXPECT_GT(reused(m[3], m[2]).second, 0u);
  for (const size_t k : {4, 5}) {
    EXPECT_GT(reused(m[k], m[2]).first, 0u) << "M" << k;
    EXPECT_EQ(reused(m[k], m[2]).second, 0u) << "M" << k;
    EXPECT_EQ(reused(m[k], m[3]).first, 0u) << "M" << k;
  }
  // A full checkpoint materializes on its own and reuses no earlier SST.
  const KeyedStateHandle full = checkpoint(true, CheckpointOptions::FullCheckpoint());
  ASSERT_TRUE(HasMaterialization(full));
  for (size_t k = 1; k < m.size(); ++k) EXPECT_EQ(reused(Ssts(full), m[k]).first, 0u) << k;
  // A checkpoint over an incremental materialization restores to its synchronous part.
  for (int i = 0; i < 3000; ++i) RandomOp(b, s, model, rng, 5000);
  auto part = b.Snapshot(++id);
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  const Model at_barrier = model;
  for (int i = 0; i < 500; ++i) RandomOp(b, s, model, rng, 5000);
  auto last = (*part)->Run();
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  ASSERT_GT(last->materialized_sequence, 0u);
  KeyedStateRestore restore{&storage_, id, {*last}, false};
  KeyedStateBackendParameters p;
  p.backend_id = "op_0";
  p.local_dir = tmp_.Sub("restored");
  p.max_parallelism = 128;
  p.key_group_range = KeyGroupRange::Of(0, 127);
  p.config = &config_;
  p.checkpoint_storage = &storage_;
  p.io_pool = &pool_;
  auto restored = CreateKeyedStateBackend("rocksdb", p, &restore);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  Check(**restored, at_barrier);
}

}  // namespace
}  // namespace weir
