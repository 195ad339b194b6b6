// Local recovery (state.backend.local-recovery) of the RocksDB backend's incremental checkpoints:
// a backend keeps its latest completed checkpoint's files as a local copy; a restore takes every
// file whose copy matches the recorded size and checksum from there, reading nothing of it from
// the checkpoint storage, and fetches the rest. A copy that does not match is never used.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "state/rocksdb/incremental_snapshot_strategy.h"
#include "state/rocksdb/local_recovery_copy.h"
#include "state/rocksdb/rocksdb_restore_operation.h"
#include "state/rocksdb/standby_copy.h"
#include "testing/checkpoint_helpers.h"
#include "testing/temp_dir.h"

namespace weir {
namespace {

namespace fs = std::filesystem;
using Model = std::map<int64_t, std::string>;

class LocalRecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(storage_.Initialize().ok());
    fs::create_directories(fs::path(copies_).parent_path());  // the job's, made by the runtime
    RocksDbBackendOptions o;
    o.backend_id = "op_0";
    o.local_dir = tmp_.Sub("local");
    o.local_recovery_dir = copies_;
    backend_ = std::move(RocksDbKeyedStateBackend::Open(o)).value();
    strategy_ = std::make_unique<IncrementalSnapshotStrategy>(*backend_, storage_, pool_);
    coordinator_ =
        std::make_unique<CheckpointCoordinator>(storage_, CoordinatorOptions{"job", 2, {}});
    ASSERT_TRUE(coordinator_->Recover().ok());
    coordinator_->AddListener(strategy_.get());
  }
  void Put(int64_t key, const std::string& value) {
    auto v = *backend_->GetValueState(ValueStateDescriptor<std::string>{"v"});
    ASSERT_TRUE(backend_->SetCurrentKey(*DefaultSerializer<int64_t>(), key).ok());
    ASSERT_TRUE(v->Update(value).ok());
    model_[key] = value;
  }
  uint64_t Checkpoint() {
    auto m = testing::TakeCheckpoint(*coordinator_, {{backend_.get(), strategy_.get()}});
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    metadata_[m->checkpoint_id] = *m;
    return m->checkpoint_id;
  }
  Result<Model> Restore(uint64_t id, const std::string& copies) {
    RocksDbBackendOptions o;
    o.backend_id = "op_0";
    o.local_dir = tmp_.Sub("restore-" + std::to_string(++restores_));
    o.local_recovery_dir = copies;
    WEIR_ASSIGN_OR_RETURN(
        auto b, RestoreKeyedStateBackend(storage_, id, metadata_.at(id).backends.at(0), o, &pool_));
    Model m;
    auto v = *b->GetValueState(ValueStateDescriptor<std::string>{"v"});
    auto ints = DefaultSerializer<int64_t>();
    WEIR_ASSIGN_OR_RETURN(const auto keys, b->GetKeys("v", *ints));
    for (int64_t k : keys) {
      WEIR_RETURN_IF_ERROR(b->SetCurrentKey(*ints, k));
      m[k] = **v->Value();
    }
    return m;
  }
  // Overwrites every file of checkpoint `id` in the checkpoint storage with other bytes of the
  // same size: a restore that read any of them would fail its verification.
  void SpoilStorage(uint64_t id) {
    for (const auto& f : metadata_.at(id).backends.at(0).files) {
      std::ofstream(storage_.ResolveRelative(f.path).value(), std::ios::binary)
          << std::string(f.size, 'x');
    }
  }
  std::vector<std::string> Copies() {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(copies_)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }

  testing::TempDir tmp_;
  const std::string copies_ = tmp_.Sub("copies/op_0");
  ThreadPool pool_{2};
  CheckpointStorage storage_ =
      CheckpointStorage::ForJob(NewPosixFileSystem(), tmp_.Sub("ckpt"), "job");
  std::unique_ptr<RocksDbKeyedStateBackend> backend_;
  std::unique_ptr<IncrementalSnapshotStrategy> strategy_;
  std::unique_ptr<CheckpointCoordinator> coordinator_;
  Model model_;
  std::map<uint64_t, CheckpointMetadata> metadata_;
  int restores_ = 0;
};

TEST_F(LocalRecoveryTest, OnlyTheLatestCompletedCheckpointsCopyIsKept) {
  for (int64_t k = 0; k < 1000; ++k) Put(k, "one");
  ASSERT_EQ(Checkpoint(), 1u);
  EXPECT_EQ(Copies(), std::vector<std::string>{"chk-1"});
  for (int64_t k = 0; k < 1000; k += 3) Put(k, "two");
  ASSERT_EQ(Checkpoint(), 2u);
  EXPECT_EQ(Copies(), std::vector<std::string>{"chk-2"});
  // The copy is the whole database of checkpoint 2 (SSTs it inherited included), and the native
  // checkpoint's working directory is gone.
  for (const auto& f : metadata_.at(2).backends.at(0).files) {
    EXPECT_TRUE(fs::exists(copies_ + "/chk-2/" + f.local_name)) << f.local_name;
  }
  EXPECT_FALSE(fs::exists(tmp_.Sub("local/checkpoints/chk-2")));
}

TEST_F(LocalRecoveryTest, ARestoreReadsNothingTheLocalCopyHolds) {
  for (int64_t k = 0; k < 2000; ++k) Put(k, std::string(50, 'a' + k % 26));
  Checkpoint();
  for (int64_t k = 0; k < 2000; k += 7) Put(k, "updated");
  const uint64_t id = Checkpoint();
  const Model expected = model_;
  SpoilStorage(id);
  // Without the copy the spoiled storage is found out; with it, nothing of it is read.
  EXPECT_FALSE(Restore(id, "").ok());
  auto restored = Restore(id, copies_);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(*restored, expected);
}

TEST_F(LocalRecoveryTest, ACopyThatDoesNotMatchIsFetchedFromTheStorage) {
  for (int64_t k = 0; k < 2000; ++k) Put(k, "value");
  const uint64_t id = Checkpoint();
  const auto& files = metadata_.at(id).backends.at(0).files;
  ASSERT_GE(files.size(), 2u);
  // Every copied file altered in place (same size) or gone: the checksums refuse them all.
  bool removed = false;
  for (const auto& f : files) {
    const std::string path = copies_ + "/chk-1/" + f.local_name;
    if (!removed) {
      fs::remove(path);
      removed = true;
      continue;
    }
    fs::remove(path);  // a hard link: rewriting it in place would change the database's file too
    std::ofstream(path, std::ios::binary) << std::string(f.size, 'z');
  }
  ASSERT_TRUE(fs::exists(copies_ + "/chk-1"));
  auto restored = Restore(id, copies_);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(*restored, model_);
  // Without any copy, everything is fetched.
  auto other = Restore(id, tmp_.Sub("elsewhere"));
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_EQ(*other, model_);
}

// Standby copies (cluster.standby-replicas): another process follows the checkpoints into a copy
// of its own, fetching only what each one added, and its restore reads nothing the copy holds.
class StandbyCopyTest : public LocalRecoveryTest {
 protected:
  void SetUp() override {
    LocalRecoveryTest::SetUp();
    fs::create_directories(fs::path(standby_).parent_path());  // the shard's, made by the worker
  }
  Result<StandbyCopyStats> Keep(uint64_t id) {
    StandbyCopyStats stats;
    WEIR_RETURN_IF_ERROR(KeepStandbyCopy(storage_, id, metadata_.at(id).backends.at(0), standby_,
                                         cancelled_, &stats));
    return stats;
  }
  // The published copies (chk-<N>): what a restore looks at.
  std::vector<std::string> Entries() {
    std::vector<std::string> names;
    if (!fs::exists(standby_)) return names;
    for (const auto& e : fs::directory_iterator(standby_)) {
      if (e.path().filename().string().starts_with("chk-")) names.push_back(e.path().filename());
    }
    std::sort(names.begin(), names.end());
    return names;
  }
  const std::string standby_ = tmp_.Sub("standby/op_0");
  std::atomic<bool> cancelled_{false};
};

TEST_F(StandbyCopyTest, ACopyFollowsTheCheckpointsFetchingOnlyWhatEachAdded) {
  for (int64_t k = 0; k < 3000; ++k) Put(k, std::string(60, 'a' + k % 26));
  const uint64_t first = Checkpoint();
  auto kept = Keep(first);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  const auto& files = metadata_.at(first).backends.at(0).files;
  EXPECT_EQ(kept->files_fetched, files.size());
  EXPECT_EQ(kept->files_linked, 0u);
  EXPECT_EQ(Entries(), std::vector<std::string>{"chk-" + std::to_string(first)});
  for (int64_t k = 0; k < 3000; k += 11) Put(k, "changed");
  const uint64_t second = Checkpoint();
  kept = Keep(second);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_GT(kept->files_linked, 0u) << "the SSTs both checkpoints share are linked";
  EXPECT_LT(kept->files_fetched, metadata_.at(second).backends.at(0).files.size());
  EXPECT_EQ(Entries(), std::vector<std::string>{"chk-" + std::to_string(second)});
  // Kept already: nothing to do.
  kept = Keep(second);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->files_fetched + kept->files_linked, 0u);
  // The takeover: nothing of the checkpoint storage is read.
  const Model expected = model_;
  SpoilStorage(second);
  auto restored = Restore(second, standby_);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(*restored, expected);
}

TEST_F(StandbyCopyTest, ACopyBehindTheLatestCheckpointStillServesWhatTheyShare) {
  for (int64_t k = 0; k < 3000; ++k) Put(k, std::string(60, 'a' + k % 26));
  const uint64_t first = Checkpoint();
  ASSERT_TRUE(Keep(first).ok());
  for (int64_t k = 0; k < 3000; k += 13) Put(k, "later");
  const uint64_t second = Checkpoint();
  // The files checkpoint 2 shares with 1 are spoiled in the storage: only the standby's copy of
  // checkpoint 1 can give them to a restore of checkpoint 2.
  std::set<std::string> first_paths;
  for (const auto& f : metadata_.at(first).backends.at(0).files) first_paths.insert(f.path);
  int shared = 0;
  for (const auto& f : metadata_.at(second).backends.at(0).files) {
    if (first_paths.count(f.path) == 0 || !f.local_name.ends_with(".sst")) continue;
    const std::string path = storage_.ResolveRelative(f.path).value();
    fs::remove(path);
    std::ofstream(path, std::ios::binary) << std::string(f.size, 'x');
    ++shared;
  }
  ASSERT_GT(shared, 0);
  EXPECT_FALSE(Restore(second, "").ok());
  auto restored = Restore(second, standby_);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(*restored, model_);
}

TEST_F(StandbyCopyTest, ACheckpointSubsumedDuringItsCopyLeavesItsFetchedFilesForTheNext) {
  for (int64_t k = 0; k < 3000; ++k) Put(k, std::string(60, 'a' + k % 26));
  const uint64_t first = Checkpoint();
  // One of its files is gone (deleted with the checkpoint, as a subsumed one's are): NotFound,
  // nothing published.
  const auto& files = metadata_.at(first).backends.at(0).files;
  fs::remove(storage_.ResolveRelative(files.back().path).value());
  auto kept = Keep(first);
  EXPECT_EQ(kept.status().code(), StatusCode::kNotFound) << kept.status().ToString();
  EXPECT_TRUE(Entries().empty());
  for (int64_t k = 0; k < 3000; k += 17) Put(k, "newer");
  const uint64_t second = Checkpoint();
  kept = Keep(second);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_GT(kept->files_linked, 0u) << "what the first attempt fetched is not fetched again";
  EXPECT_EQ(Entries(), std::vector<std::string>{"chk-" + std::to_string(second)});
  // The copy holds exactly checkpoint 2's files.
  std::set<std::string> expected, present;
  for (const auto& f : metadata_.at(second).backends.at(0).files) expected.insert(f.local_name);
  for (const auto& e : fs::directory_iterator(standby_ + "/chk-" + std::to_string(second))) {
    present.insert(e.path().filename());
  }
  EXPECT_EQ(present, expected);
  const Model expected_model = model_;
  SpoilStorage(second);
  auto restored = Restore(second, standby_);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(*restored, expected_model);
}

TEST_F(StandbyCopyTest, ACorruptCancelledOrCraftedCheckpointPublishesNoCopy) {
  for (int64_t k = 0; k < 1000; ++k) Put(k, "v");
  const uint64_t id = Checkpoint();
  cancelled_ = true;
  auto kept = Keep(id);
  EXPECT_EQ(kept.status().code(), StatusCode::kAborted) << kept.status().ToString();
  EXPECT_TRUE(fs::is_empty(standby_)) << "a cancelled copy leaves nothing";
  cancelled_ = false;
  auto crafted = metadata_.at(id);
  crafted.backends.at(0).files.at(0).local_name = "../escape.sst";
  StandbyCopyStats stats;
  Status s = KeepStandbyCopy(storage_, id, crafted.backends.at(0), standby_, cancelled_, &stats);
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
  EXPECT_FALSE(fs::exists(tmp_.Sub("standby/escape.sst")));
  SpoilStorage(id);
  kept = Keep(id);
  EXPECT_EQ(kept.status().code(), StatusCode::kCorruption) << kept.status().ToString();
  EXPECT_NE(kept.status().message().find("checkpoint " + std::to_string(id)), std::string::npos);
  EXPECT_TRUE(Entries().empty()) << "a copy of a corrupt checkpoint is never published";
}

TEST(LocalRecoveryCopyTest, ConfirmDiscardAndLeaveForeignEntriesAlone) {
  testing::TempDir tmp;
  const std::string dir = tmp.Sub("copies");
  LocalRecoveryCopy copy(dir);
  for (int id : {3, 4, 5}) {
    const std::string native = tmp.Sub("native-" + std::to_string(id));
    fs::create_directories(native);
    std::ofstream(native + "/000001.sst") << id;
    ASSERT_TRUE(copy.Keep(id, native).ok());
    EXPECT_FALSE(fs::exists(native));
  }
  fs::create_directories(dir + "/chk-x");
  std::ofstream(dir + "/notes") << "mine";
  copy.Confirm(4);
  EXPECT_FALSE(fs::exists(dir + "/chk-3"));
  EXPECT_TRUE(fs::exists(dir + "/chk-4/000001.sst"));
  EXPECT_TRUE(fs::exists(dir + "/chk-5/000001.sst"));
  copy.Discard(5);
  EXPECT_FALSE(fs::exists(dir + "/chk-5"));
  EXPECT_TRUE(fs::exists(dir + "/chk-x"));
  EXPECT_TRUE(fs::exists(dir + "/notes"));
  // Keeping an id again replaces the stale copy.
  const std::string native = tmp.Sub("native-again");
  fs::create_directories(native);
  std::ofstream(native + "/000002.sst") << "new";
  ASSERT_TRUE(copy.Keep(4, native).ok());
  EXPECT_FALSE(fs::exists(dir + "/chk-4/000001.sst"));
  EXPECT_TRUE(fs::exists(dir + "/chk-4/000002.sst"));
}

TEST(LocalRecoveryCopyTest, ABaseDirectoryNotOwnedByThisUserAloneIsRefused) {
  testing::TempDir tmp;
  auto dir = CreateLocalRecoveryDirectory(tmp.Sub("a"), "job-1");
  ASSERT_FALSE(dir.ok());  // the parent must exist
  fs::create_directories(tmp.Sub("a"));
  dir = CreateLocalRecoveryDirectory(tmp.Sub("a"), "job-1");
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_TRUE(fs::is_directory(*dir));
  EXPECT_EQ(fs::status(*dir).permissions() & fs::perms::all, fs::perms::owner_all);
  const std::string base = fs::path(*dir).parent_path();
  // Open to others (someone may have planted it), or a link to elsewhere: refused.
  ::chmod(base.c_str(), 0777);
  EXPECT_EQ(CreateLocalRecoveryDirectory(tmp.Sub("a"), "job-1").status().code(),
            StatusCode::kFailedPrecondition);
  fs::create_directories(tmp.Sub("b"));
  fs::create_directories(tmp.Sub("elsewhere"));
  ::chmod(tmp.Sub("elsewhere").c_str(), 0700);
  fs::create_directory_symlink(tmp.Sub("elsewhere"),
                               tmp.Sub("b") + "/" + fs::path(base).filename().string());
  EXPECT_EQ(CreateLocalRecoveryDirectory(tmp.Sub("b"), "job-1").status().code(),
            StatusCode::kFailedPrecondition);
  // A scope that is not an identifier never becomes a path.
  EXPECT_FALSE(CreateLocalRecoveryDirectory(tmp.Sub("a"), "../x").ok());
}

}  // namespace
}  // namespace weir
