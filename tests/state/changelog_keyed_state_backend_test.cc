// Changelog checkpoints (state/changelog/changelog_keyed_state_backend.h) over both backends:
// every checkpoint, taken while the task keeps writing, restores to exactly the state at its
// synchronous part, whether it is the log alone, a materialization plus the log after it, or a
// materialization of its own (after a restore); restores at other parallelisms take their key
// groups only; materialization failures are tolerated up to the configured number.
#include "state/changelog/changelog_keyed_state_backend.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "checkpoint/checkpoint_coordinator.h"
#include "common/failpoint.h"
#include "state/rocksdb/rocksdb_keyed_state_backend.h"
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
  // Checkpoints until one collects a successful materialization (within 5 s: slow under a
  // sanitizer on a loaded machine, where 0.4 s had not always been enough).
  for (int i = 0; i < 50 && b.materializations() == 0; ++i) {
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

// A materialization still running when the backend goes (its task finished or failed after a
// checkpoint's completion started it) is one no checkpoint references: the files it wrote are
// deleted then, while every file of the checkpoints (those it would have reused among them) stays.
TEST_P(ChangelogBackendTest, AMaterializationNoCheckpointReferencesLeavesNoFile) {
  ASSERT_TRUE(config_.Set("state.backend.changelog.periodic-materialize.interval", "0 ms").ok());
  auto made = Make(GetParam(), "op_0", nullptr);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  auto& b = static_cast<ChangelogKeyedStateBackend&>(**made);
  const States s = Register(b);
  Model model;
  std::mt19937_64 rng(43);
  KeyedStateHandle last;
  Model at_last;
  for (uint64_t id = 1; id <= 2; ++id) {
    for (int i = 0; i < 3000; ++i) RandomOp(b, s, model, rng, 3000);
    std::tie(last, at_last) = Checkpoint(b, s, model, rng, id);
    ASSERT_FALSE(HasFailure());
    // 1's materialization ends; 2 rests on it, and its completion starts the next one.
    if (id == 1) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  ASSERT_TRUE(HasMaterialization(last));
  const uint64_t started = b.materializations();
  made->reset();
  std::set<std::string> referenced;
  for (const auto& f : last.files) {
    referenced.insert(f.path);
    EXPECT_TRUE(std::filesystem::exists(*storage_.ResolveRelative(f.path))) << f.path;
  }
  for (const auto& e : std::filesystem::directory_iterator(storage_.SharedDir())) {
    const std::string name = "shared/" + e.path().filename().string();
    if (name.ends_with(".dstl")) continue;  // log batches: the writer's
    EXPECT_TRUE(referenced.count(name) == 1) << name << " is referenced by no checkpoint";
  }
  EXPECT_GE(started, 1u);
  auto restored = Restore({last}, 2, "op_0", KeyGroupRange::Of(0, 127));
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  Check(**restored, at_last);
}

INSTANTIATE_TEST_SUITE_P(State, ChangelogBackendTest, ::testing::Values("rocksdb", "hashmap"),
                         [](const auto& info) { return info.param; });

// RocksDB's materializations are incremental: each uploads only the SSTs that its base did not
// have and references the rest; its private files lie in shared/, written outside any
// checkpoint. Its base is the materialization the checkpoints rest on, once a completed one
// referenced it: a periodic materialization waits for that (never building on one that no
// completed checkpoint referenced, nor on an older one whose files the checkpoints no longer
// hold), and a full checkpoint's own materialization reuses nothing.
class ChangelogIncrementalMaterializationTest : public testing::BackendMaker,
                                                public testing::StateModel,
                                                public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(config_.Set("state.backend.changelog.enabled", "true").ok());
    ASSERT_TRUE(config_.Set("dstl.dfs.batch.persist-delay", "1 ms").ok());
    ASSERT_TRUE(config_.Set("state.backend.changelog.periodic-materialize.interval", "0 ms").ok());
  }
  Result<std::unique_ptr<CheckpointableKeyedStateBackend>> Restore(const KeyedStateHandle& h,
                                                                   uint64_t id) {
    KeyedStateRestore restore{&storage_, id, {h}, false};
    KeyedStateBackendParameters p;
    p.backend_id = h.backend_id;
    p.local_dir = tmp_.Sub("restored-" + std::to_string(made_++));
    p.max_parallelism = 128;
    p.key_group_range = KeyGroupRange::Of(0, 127);
    p.config = &config_;
    p.checkpoint_storage = &storage_;
    p.io_pool = &pool_;
    return CreateKeyedStateBackend("rocksdb", p, &restore);
  }
  // Random changes, then checkpoint `id` of `b`, completed; its files go into `referenced`.
  KeyedStateHandle CompletedCheckpoint(ChangelogKeyedStateBackend& b, const States& s, Model& model,
                                       std::mt19937_64& rng, uint64_t id,
                                       const CheckpointOptions& options,
                                       std::set<std::string>* referenced) {
    for (int i = 0; i < 3000; ++i) RandomOp(b, s, model, rng, 5000);
    auto part = b.Snapshot(id, options);
    EXPECT_TRUE(part.ok()) << part.status().ToString();
    if (!part.ok()) return {};
    auto h = (*part)->Run();
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    if (!h.ok()) return {};
    for (const auto& f : h->files) referenced->insert(f.path);
    b.NotifyCheckpointComplete(id);
    return *h;
  }
  // Waits up to 10 s for shared/ to hold only files in `referenced` (and log files: the
  // writer's), and checks that every one of those is there.
  void ExpectOnlyReferencedFiles(const std::set<std::string>& referenced) {
    const auto unreferenced = [&] {
      std::vector<std::string> names;
      for (const auto& e : std::filesystem::directory_iterator(storage_.SharedDir())) {
        const std::string name = "shared/" + e.path().filename().string();
        if (!name.ends_with(".dstl") && referenced.count(name) == 0) names.push_back(name);
      }
      return names;
    };
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!unreferenced().empty() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(unreferenced(), std::vector<std::string>{});
    for (const auto& path : referenced) {
      EXPECT_TRUE(std::filesystem::exists(*storage_.ResolveRelative(path))) << path;
    }
  }
};

// The id of the materialization a handle rests on (0: none), from its files' names.
uint64_t MaterializationId(const KeyedStateHandle& h) {
  for (const auto& f : h.files) {
    if (f.role != StateFileRole::kMaterialization) continue;
    const std::string marker = "-materialization-";
    const size_t at = f.path.find(marker) + marker.size();
    return std::stoull(f.path.substr(at, f.path.find('-', at) - at));
  }
  return 0;
}

TEST_F(ChangelogIncrementalMaterializationTest, EachBuildsOnTheConfirmedOneTheCheckpointsRestOn) {
  // No compaction: every SST a materialization holds lives on, so what each reuses is exact.
  ASSERT_TRUE(config_.Set("state.backend.rocksdb.compaction.level0-file-num-trigger", "100").ok());
  auto made = Make("rocksdb", "op_0", nullptr);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  auto& b = static_cast<ChangelogKeyedStateBackend&>(**made);
  const States s = Register(b);
  Model model;
  std::mt19937_64 rng(31);
  uint64_t id = 0;
  // Checkpoint `id`, completed or not; then the materialization it started (if any) ends.
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
  // 1 starts M1. 2 rests on M1 and starts none (M1 is not confirmed yet); 2's completion
  // confirms M1 and starts M2 on it (numbered by 2), without waiting for the next checkpoint.
  // 3 rests on M2, and its completion starts M3 on M2. 4 rests on M3 and is never completed:
  // nothing starts; 5 rests on M3, and its completion confirms M3 and starts M5 on it; 6 rests
  // on M5 and starts M6; 7 rests on M6.
  std::vector<KeyedStateHandle> h(1);
  for (const bool complete : {true, true, true, false, true, true, true}) {
    h.push_back(checkpoint(complete, CheckpointOptions::Checkpoint()));
    ASSERT_FALSE(HasFailure());
  }
  const std::vector<uint64_t> expected = {0, 0, 1, 2, 3, 3, 5, 6};
  for (size_t k = 1; k < h.size(); ++k) {
    EXPECT_EQ(MaterializationId(h[k]), expected[k]) << "checkpoint " << k;
    EXPECT_EQ(h[k].materialization_states.empty(), expected[k] == 0) << "checkpoint " << k;
  }
  const auto m1 = Ssts(h[2]), m3 = Ssts(h[4]), m6 = Ssts(h[7]);
  ASSERT_FALSE(m1.empty());
  EXPECT_GT(reused(m3, m1).first, 0u);
  EXPECT_EQ(reused(m3, m1).second, 0u);
  EXPECT_GT(reused(m6, m3).first, 0u);
  EXPECT_EQ(reused(m6, m3).second, 0u);
  // A full checkpoint materializes on its own and reuses no earlier SST.
  const KeyedStateHandle full = checkpoint(true, CheckpointOptions::FullCheckpoint());
  ASSERT_TRUE(HasMaterialization(full));
  for (const auto& earlier : {m1, m3, m6}) EXPECT_EQ(reused(Ssts(full), earlier).first, 0u);
  // A checkpoint over an incremental materialization restores to its synchronous part.
  for (int i = 0; i < 3000; ++i) RandomOp(b, s, model, rng, 5000);
  auto part = b.Snapshot(++id);
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  const Model at_barrier = model;
  for (int i = 0; i < 500; ++i) RandomOp(b, s, model, rng, 5000);
  auto last = (*part)->Run();
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  ASSERT_GT(last->materialized_sequence, 0u);
  auto restored = Restore(*last, id);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  Check(**restored, at_barrier);
  // RocksDB's compactions, held while the log was replayed, run again. (Made without a log
  // writer, the restored backend is the RocksDB one itself.)
  auto* rocksdb = dynamic_cast<RocksDbKeyedStateBackend*>(restored->get());
  ASSERT_NE(rocksdb, nullptr);
  EXPECT_FALSE(rocksdb->compactions_held());
}

// A materialization that a completion starts is numbered by the latest checkpoint, never by one
// the inner backend already used: after a full checkpoint's own materialization M1, whose
// completion confirms it (it is collected by checkpoint 2, not by the completion), none starts
// as 1 again; the next checkpoint starts M2, and 3's completion (confirming M2) starts M3
// without waiting for checkpoint 4.
TEST_F(ChangelogIncrementalMaterializationTest, ACompletionStartsOneUnderAnIdOfItsOwn) {
  auto made = Make("rocksdb", "op_0", nullptr);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  auto& b = static_cast<ChangelogKeyedStateBackend&>(**made);
  const States s = Register(b);
  Model model;
  std::mt19937_64 rng(41);
  std::vector<KeyedStateHandle> h(1);
  std::vector<uint64_t> collected(1);  // materializations() after each checkpoint's sync part
  for (uint64_t id = 1; id <= 4; ++id) {
    for (int i = 0; i < 2000; ++i) RandomOp(b, s, model, rng, 3000);
    auto part = b.Snapshot(
        id, id == 1 ? CheckpointOptions::FullCheckpoint() : CheckpointOptions::Checkpoint());
    ASSERT_TRUE(part.ok()) << part.status().ToString();
    collected.push_back(b.materializations());
    auto handle = (*part)->Run();
    ASSERT_TRUE(handle.ok()) << handle.status().ToString();
    h.push_back(*handle);
    b.NotifyCheckpointComplete(id);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  EXPECT_EQ(MaterializationId(h[1]), 1u);
  EXPECT_EQ(MaterializationId(h[2]), 1u);
  EXPECT_EQ(MaterializationId(h[3]), 2u);
  EXPECT_EQ(MaterializationId(h[4]), 3u);
  // M1 collected by checkpoint 2; nothing else ran before 3 collected M2.
  EXPECT_EQ(collected[2], 1u);
  EXPECT_EQ(collected[3], 2u);
  EXPECT_EQ(collected[4], 3u);
  auto restored = Restore(h[4], 4);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  Check(**restored, model);
}

// An incremental materialization that a full checkpoint supersedes while it runs is never a
// base, and no checkpoint references it: the files it wrote are deleted once it ends (not by the
// task's thread), while every file of the checkpoints (those it reused among them) stays.
TEST_F(ChangelogIncrementalMaterializationTest, OneAFullCheckpointSupersedesLeavesNoFile) {
  auto made = Make("rocksdb", "op_0", nullptr);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  auto& b = static_cast<ChangelogKeyedStateBackend&>(**made);
  const States s = Register(b);
  Model model;
  std::mt19937_64 rng(41);
  std::set<std::string> referenced;
  const auto checkpoint = [&](uint64_t id, const CheckpointOptions& options) {
    return CompletedCheckpoint(b, s, model, rng, id, options, &referenced);
  };
  // 1 starts M1, which ends; 2 rests on M1, and its completion starts M2 on it, still running
  // (held by the failpoint) when the full checkpoint 3 supersedes it with a materialization of
  // its own.
  checkpoint(1, CheckpointOptions::Checkpoint());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Failpoints::Instance().Set("changelog.materialize", FailpointAction::kSleep, 0, 500);
  checkpoint(2, CheckpointOptions::Checkpoint());
  checkpoint(3, CheckpointOptions::FullCheckpoint());
  Failpoints::Instance().Clear("changelog.materialize");
  ASSERT_FALSE(HasFailure());
  ExpectOnlyReferencedFiles(referenced);
  // The next checkpoint rests on the full one's materialization and restores.
  for (int i = 0; i < 500; ++i) RandomOp(b, s, model, rng, 5000);
  auto part = b.Snapshot(4);
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  auto last = (*part)->Run();
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  auto restored = Restore(*last, 4);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  Check(**restored, model);
}

// A materialization that ended before a full checkpoint becomes the base when that checkpoint
// collects it, but the full checkpoint takes a materialization of its own: if the next
// checkpoint already finds the full one's ended, no checkpoint ever references the first, and
// the files it wrote (not those it reused from the base before it) are deleted then (checked
// once the backend is gone, which deletes the one still running: see
// AMaterializationNoCheckpointReferencesLeavesNoFile).
TEST_F(ChangelogIncrementalMaterializationTest, ABaseNoCheckpointTookLeavesNoFile) {
  auto made = Make("rocksdb", "op_0", nullptr);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  auto& b = static_cast<ChangelogKeyedStateBackend&>(**made);
  const States s = Register(b);
  Model model;
  std::mt19937_64 rng(43);
  std::set<std::string> referenced;
  KeyedStateHandle last;
  const auto checkpoint = [&](uint64_t id, const CheckpointOptions& options) {
    last = CompletedCheckpoint(b, s, model, rng, id, options, &referenced);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the one started ends
  };
  // 1 starts M1; 2 rests on M1 and its completion starts M2 on it; 3 (full) collects M2 as the
  // base but rests on its own F3; 4 collects F3 and rests on it: M2 was never referenced.
  checkpoint(1, CheckpointOptions::Checkpoint());
  checkpoint(2, CheckpointOptions::Checkpoint());
  checkpoint(3, CheckpointOptions::FullCheckpoint());
  checkpoint(4, CheckpointOptions::Checkpoint());
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(MaterializationId(last), 3u);
  made->reset();  // and with it the materialization 4's completion started
  ExpectOnlyReferencedFiles(referenced);
  auto restored = Restore(last, 4);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  Check(**restored, model);
}

// Under the coordinator, which deletes what no retained checkpoint references: with a
// materialization begun whenever it may and one checkpoint retained, every completed checkpoint's
// files exist after the cleaner ran (none built on files the checkpoints no longer hold), and the
// last one restores.
TEST_F(ChangelogIncrementalMaterializationTest, RetainedCheckpointsKeepEveryFileTheyReference) {
  CheckpointCoordinator coordinator(storage_, CoordinatorOptions{"job", 1, {}});
  ASSERT_TRUE(coordinator.Recover().ok());
  auto made = Make("rocksdb", "op_0", nullptr);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  auto& b = static_cast<ChangelogKeyedStateBackend&>(**made);
  // The backend hears of completions on its owner's thread, as from a task's mailbox.
  struct Mailbox final : CheckpointListener {
    std::mutex mu;
    std::vector<std::pair<bool, uint64_t>> mail;  // completed?, id
    void NotifyCheckpointComplete(uint64_t id) override {
      std::lock_guard<std::mutex> lock(mu);
      mail.emplace_back(true, id);
    }
    void NotifyCheckpointAborted(uint64_t id) override {
      std::lock_guard<std::mutex> lock(mu);
      mail.emplace_back(false, id);
    }
    void DeliverTo(CheckpointListener& l) {
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& [completed, id] : mail) {
        completed ? l.NotifyCheckpointComplete(id) : l.NotifyCheckpointAborted(id);
      }
      mail.clear();
    }
  } mailbox;
  coordinator.AddListener(&mailbox);
  const States s = Register(b);
  Model model;
  std::mt19937_64 rng(37);
  KeyedStateHandle last;
  uint64_t last_id = 0;
  for (int round = 0; round < 14; ++round) {
    for (int i = 0; i < 4000; ++i) RandomOp(b, s, model, rng, 3000);
    auto id = coordinator.StartCheckpoint(CheckpointKind::kChangelog, {"op_0"}, 0);
    ASSERT_TRUE(id.ok());
    auto part = b.Snapshot(*id);
    ASSERT_TRUE(part.ok()) << part.status().ToString();
    auto h = (*part)->Run();
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    auto done = coordinator.Acknowledge(*id, *h, 0);
    ASSERT_TRUE(done.ok() && done->has_value()) << done.status().ToString();
    coordinator.WaitForCompletions();
    mailbox.DeliverTo(b);
    coordinator.cleaner().WaitIdle();
    for (const auto& f : h->files) {
      ASSERT_TRUE(std::filesystem::exists(*storage_.ResolveRelative(f.path)))
          << "checkpoint " << *id << ": " << f.path << " was deleted";
    }
    last = *h;
    last_id = *id;
    // Materializations end between checkpoints (alternately: some overlap a checkpoint).
    std::this_thread::sleep_for(std::chrono::milliseconds(round % 2 == 0 ? 250 : 5));
  }
  EXPECT_GE(b.materializations(), 3u);
  auto restored = Restore(last, last_id);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  Check(**restored, model);
}

// The restore plan counts the changes a replay applies (the backend's hint): those of its
// segments past the materialization and up to the checkpoint's sequence, saturating for
// sequences a crafted checkpoint makes up.
TEST(ChangelogRestorePlanTest, CountsTheChangesPastTheMaterialization) {
  KeyedStateHandle h;
  h.backend_id = "op_0";
  h.kind = BackendSnapshotKind::kChangelog;
  h.materialized_sequence = 10;
  h.changelog_sequence = 25;
  h.changelog = {{"a", 0, 1, 1, 12}, {"a", 1, 1, 13, 30}, {"b", 0, 1, 31, 40}};
  KeyedStateRestore restore;
  restore.handles = {h};
  auto plan = PlanChangelogRestore(restore);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->changes, 2u + 13u);  // 11..12 and 13..25
  EXPECT_TRUE(plan->inner.handles.empty());

  h.materialized_sequence = 0;
  h.changelog_sequence = std::numeric_limits<uint64_t>::max();
  h.changelog = {{"a", 0, 1, 1, std::numeric_limits<uint64_t>::max()}, {"a", 1, 1, 5, 9}};
  restore.handles = {h};
  plan = PlanChangelogRestore(restore);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->changes, std::numeric_limits<uint64_t>::max());
}

}  // namespace
}  // namespace weir
