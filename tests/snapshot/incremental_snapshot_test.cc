#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "checkpoint/checkpoint_verifier.h"
#include "common/failpoint.h"
#include "snapshot/full_snapshot_strategy.h"
#include "state/rocksdb/incremental_snapshot_strategy.h"
#include "state/rocksdb/rocksdb_restore_operation.h"
#include "testing/checkpoint_helpers.h"
#include "testing/temp_dir.h"

namespace weir {
namespace {

using Model = std::map<int64_t, std::string>;

class IncrementalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(storage_.Initialize().ok());
    backend_ = Open("op_0");
    strategy_ = std::make_unique<IncrementalSnapshotStrategy>(*backend_, storage_, pool_);
    coordinator_ = NewCoordinator(1);
  }
  void TearDown() override { Failpoints::Instance().ClearAll(); }

  std::unique_ptr<RocksDbKeyedStateBackend> Open(const std::string& id) {
    RocksDbBackendOptions o;
    o.backend_id = id;
    o.local_dir = tmp_.Sub("local-" + id);
    return std::move(RocksDbKeyedStateBackend::Open(o)).value();
  }
  std::unique_ptr<CheckpointCoordinator> NewCoordinator(int num_retained) {
    auto c = std::make_unique<CheckpointCoordinator>(storage_,
                                                     CoordinatorOptions{"job", num_retained, {}});
    EXPECT_TRUE(c->Recover().ok());
    c->AddListener(strategy_.get());
    return c;
  }
  void Put(RocksDbKeyedStateBackend& b, int64_t key, const std::string& value, Model* model) {
    auto v = *b.GetValueState(ValueStateDescriptor<std::string>{"v"});
    ASSERT_TRUE(b.SetCurrentKey(*DefaultSerializer<int64_t>(), key).ok());
    ASSERT_TRUE(v->Update(value).ok());
    if (model) (*model)[key] = value;
  }
  Model ReadAll(RocksDbKeyedStateBackend& b) {
    Model m;
    auto v = *b.GetValueState(ValueStateDescriptor<std::string>{"v"});
    auto ints = DefaultSerializer<int64_t>();
    const auto keys = b.GetKeys("v", *ints);
    EXPECT_TRUE(keys.ok());
    for (int64_t k : *keys) {
      EXPECT_TRUE(b.SetCurrentKey(*ints, k).ok());
      m[k] = **v->Value();
    }
    return m;
  }
  Model Restore(uint64_t id) {
    auto metadata = ReadCheckpointMetadata(storage_.fs(), storage_.MetadataPath(id));
    EXPECT_TRUE(metadata.ok()) << metadata.status().ToString();
    RocksDbBackendOptions o;
    o.backend_id = "op_0";
    o.local_dir = tmp_.Sub("restore-" + std::to_string(id));
    auto b = RestoreKeyedStateBackend(storage_, id, metadata->backends.at(0), o, &pool_);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return b.ok() ? ReadAll(**b) : Model{};
  }
  Result<CheckpointMetadata> Checkpoint() {
    return testing::TakeCheckpoint(*coordinator_, {{backend_.get(), strategy_.get()}});
  }
  VerifyReport Verify() {
    coordinator_->cleaner().WaitIdle();
    auto r = VerifyJobDirectory(storage_);
    EXPECT_TRUE(r.ok());
    return *r;
  }
  static std::set<std::string> Names(const CheckpointMetadata& m, bool uploaded_only) {
    std::set<std::string> out;
    for (const auto& f : m.backends[0].files) {
      if (f.role == StateFileRole::kShared &&
          (!uploaded_only || f.written_by_checkpoint == m.checkpoint_id)) {
        out.insert(f.local_name);
      }
    }
    return out;
  }

  testing::TempDir tmp_;
  ThreadPool pool_{4};
  CheckpointStorage storage_ =
      CheckpointStorage::ForJob(NewPosixFileSystem(), tmp_.Sub("ckpt"), "job");
  std::unique_ptr<RocksDbKeyedStateBackend> backend_;
  std::unique_ptr<IncrementalSnapshotStrategy> strategy_;
  std::unique_ptr<CheckpointCoordinator> coordinator_;
};

TEST_F(IncrementalTest, UploadsExactlyTheSstsNewSinceTheBase) {
  Model model;
  for (int64_t k = 0; k < 100000; ++k) Put(*backend_, k, std::string(100, 'a' + k % 26), &model);
  auto first = Checkpoint();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->backends[0].kind, BackendSnapshotKind::kIncremental);
  EXPECT_EQ(first->backends[0].checkpointed_bytes, first->backends[0].full_bytes);
  EXPECT_EQ(strategy_->base_checkpoint_id(), first->checkpoint_id);

  std::mt19937_64 rng(7);
  for (int i = 0; i < 1000; ++i) Put(*backend_, rng() % 100000, "updated", &model);  // 1%
  auto second = Checkpoint();
  ASSERT_TRUE(second.ok()) << second.status().ToString();

  // Exactly the SSTs not in the base were uploaded; the others are the base's own handles.
  const auto all = Names(*second, false), uploaded = Names(*second, true),
             base = Names(*first, false);
  std::set<std::string> expected_new;
  for (const auto& n : all) {
    if (!base.count(n)) expected_new.insert(n);
  }
  EXPECT_EQ(uploaded, expected_new);
  EXPECT_EQ(uploaded.size(), 1u) << "one flush since the base";
  for (const auto& f : second->backends[0].files) {
    if (f.role != StateFileRole::kShared || f.written_by_checkpoint == second->checkpoint_id)
      continue;
    const auto& old = first->backends[0].files;
    EXPECT_NE(std::find(old.begin(), old.end(), f), old.end()) << f.path << " is not the base's";
  }
  const auto& h = second->backends[0];
  std::printf("full %llu bytes, uploaded %llu bytes\n", (unsigned long long)h.full_bytes,
              (unsigned long long)h.checkpointed_bytes);
  EXPECT_LT(h.checkpointed_bytes * 20, h.full_bytes);
  EXPECT_EQ(Restore(second->checkpoint_id), model);
  EXPECT_FALSE(std::filesystem::exists(tmp_.Sub("local-op_0/checkpoints/chk-1")));
  EXPECT_FALSE(std::filesystem::exists(tmp_.Sub("local-op_0/checkpoints/chk-2")));
  const auto report = Verify();
  EXPECT_TRUE(report.healthy());
  EXPECT_TRUE(report.orphans.empty());
  EXPECT_EQ(report.checkpoints, std::vector<uint64_t>{2});
}

TEST_F(IncrementalTest, NeverBuildsOnAnUnconfirmedCheckpoint) {
  Model model;
  for (int64_t k = 0; k < 1000; ++k) Put(*backend_, k, "x", &model);
  // Checkpoint 1 is snapshotted and uploaded but never confirmed.
  auto id1 = *coordinator_->StartCheckpoint(CheckpointKind::kIncremental, {"op_0"}, 0);
  auto part1 = std::move(strategy_->SyncPart(id1)).value();
  auto handle1 = part1->Run();
  ASSERT_TRUE(handle1.ok());
  EXPECT_FALSE(strategy_->base_checkpoint_id().has_value());
  Put(*backend_, 5, "y", &model);
  auto second = Checkpoint();  // id 2 completes; 1 (older, pending) is aborted
  ASSERT_TRUE(second.ok());
  for (const auto& f : second->backends[0].files) {
    EXPECT_EQ(f.written_by_checkpoint, second->checkpoint_id) << f.path << " came from pending 1";
  }
  EXPECT_TRUE(coordinator_->Acknowledge(id1, *handle1, 0).status().code() == StatusCode::kAborted);
  const auto report = Verify();
  EXPECT_TRUE(report.healthy());
  EXPECT_TRUE(report.orphans.empty()) << report.orphans.size() << " orphans, first "
                                      << (report.orphans.empty() ? "" : report.orphans[0].path);
  EXPECT_EQ(Restore(second->checkpoint_id), model);
}

TEST_F(IncrementalTest, AbortedInTheMiddleOfItsUploadsLeavesNoOrphan) {
  Model model;
  for (int64_t k = 0; k < 20000; ++k) Put(*backend_, k, std::string(50, 'q'), &model);
  ASSERT_TRUE(Checkpoint().ok());
  for (int64_t k = 0; k < 500; ++k) Put(*backend_, k, "changed", &model);
  Failpoints::Instance().Set("incremental.upload", FailpointAction::kError, /*fire_on_hit=*/2);
  auto failed = Checkpoint();
  EXPECT_FALSE(failed.ok());
  Failpoints::Instance().ClearAll();
  auto report = Verify();
  EXPECT_TRUE(report.orphans.empty()) << report.orphans[0].path;
  EXPECT_TRUE(report.healthy());
  EXPECT_EQ(report.checkpoints, std::vector<uint64_t>{1});

  auto next = Checkpoint();  // builds on 1 again, not on the failed 2
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->checkpoint_id, 3u);
  EXPECT_EQ(Restore(3), model);
  report = Verify();
  EXPECT_TRUE(report.orphans.empty());
}

TEST_F(IncrementalTest, AbortOfAnAcknowledgedBackendDeletesItsUploads) {
  auto second_backend = Open("op_1");
  IncrementalSnapshotStrategy second_strategy(*second_backend, storage_, pool_);
  for (int64_t k = 0; k < 5000; ++k) {
    Put(*backend_, k, "a", nullptr);
    Put(*second_backend, k, "b", nullptr);
  }
  const auto id = *coordinator_->StartCheckpoint(CheckpointKind::kIncremental, {"op_0", "op_1"}, 0);
  auto part0 = std::move(strategy_->SyncPart(id)).value();
  auto part1 = std::move(second_strategy.SyncPart(id)).value();
  auto h0 = part0->Run();
  ASSERT_TRUE(h0.ok());
  ASSERT_TRUE(coordinator_->Acknowledge(id, *h0, 0).ok());
  // A duplicate acknowledgement while the checkpoint is in flight deletes nothing of it.
  EXPECT_EQ(coordinator_->Acknowledge(id, *h0, 0).status().code(), StatusCode::kInvalidArgument);
  coordinator_->cleaner().WaitIdle();
  for (const auto& f : h0->files) {
    EXPECT_TRUE(std::filesystem::exists(*storage_.ResolveRelative(f.path))) << f.path;
  }
  coordinator_->Abort(id, "op_1 declined");  // op_1 never acknowledges in time
  coordinator_->cleaner().WaitIdle();
  auto h1 = part1->Run();  // finishes after the abort: its acknowledgement is discarded
  ASSERT_TRUE(h1.ok());
  EXPECT_EQ(coordinator_->Acknowledge(id, *h1, 0).status().code(), StatusCode::kAborted);
  const auto report = Verify();
  EXPECT_TRUE(report.orphans.empty()) << report.orphans.size();
  EXPECT_TRUE(report.checkpoints.empty());
}

TEST_F(IncrementalTest, OutOfOrderCompletionAndAbortBreakNothing) {
  Model model;
  for (int64_t k = 0; k < 3000; ++k) Put(*backend_, k, "v0", &model);
  ASSERT_TRUE(Checkpoint().ok());  // 1

  // 2 and 3 pending together; 3 aborted, then 2 completes.
  Put(*backend_, 1, "v2", &model);
  const Model at2 = model;
  const auto id2 = *coordinator_->StartCheckpoint(CheckpointKind::kIncremental, {"op_0"}, 0);
  auto p2 = std::move(strategy_->SyncPart(id2)).value();
  Put(*backend_, 2, "v3", &model);
  const auto id3 = *coordinator_->StartCheckpoint(CheckpointKind::kIncremental, {"op_0"}, 0);
  auto p3 = std::move(strategy_->SyncPart(id3)).value();
  auto h3 = p3->Run();
  ASSERT_TRUE(h3.ok());
  coordinator_->Abort(id3, "test");
  EXPECT_EQ(coordinator_->Acknowledge(id3, *h3, 0).status().code(), StatusCode::kAborted);
  auto h2 = p2->Run();
  ASSERT_TRUE(h2.ok());
  ASSERT_TRUE(coordinator_->Acknowledge(id2, *h2, 0).ok());
  EXPECT_EQ(strategy_->base_checkpoint_id(), id2);
  EXPECT_EQ(Restore(id2), at2);

  // 4 and 5 pending together; 4 aborted, then 5 completes.
  Put(*backend_, 3, "v4", &model);
  const auto id4 = *coordinator_->StartCheckpoint(CheckpointKind::kIncremental, {"op_0"}, 0);
  auto p4 = std::move(strategy_->SyncPart(id4)).value();
  Put(*backend_, 4, "v5", &model);
  const auto id5 = *coordinator_->StartCheckpoint(CheckpointKind::kIncremental, {"op_0"}, 0);
  auto p5 = std::move(strategy_->SyncPart(id5)).value();
  coordinator_->Abort(id4, "test");
  coordinator_->cleaner().WaitIdle();
  auto h4 = p4->Run();  // finishes after its abort: must not become a base
  ASSERT_TRUE(h4.ok());
  EXPECT_EQ(coordinator_->Acknowledge(id4, *h4, 0).status().code(), StatusCode::kAborted);
  auto h5 = p5->Run();
  ASSERT_TRUE(h5.ok());
  ASSERT_TRUE(coordinator_->Acknowledge(id5, *h5, 0).ok());
  EXPECT_EQ(strategy_->base_checkpoint_id(), id5);

  Put(*backend_, 5, "v6", &model);
  auto last = Checkpoint();
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(Restore(last->checkpoint_id), model);
  auto report = Verify();
  EXPECT_TRUE(report.healthy());
  EXPECT_TRUE(report.orphans.empty()) << report.orphans.size() << " orphans";
  EXPECT_EQ(report.checkpoints, std::vector<uint64_t>{last->checkpoint_id});
}

TEST_F(IncrementalTest, RestoreOwnedCheckpointBecomesTheBase) {
  Model model;
  for (int64_t k = 0; k < 5000; ++k) Put(*backend_, k, "base", &model);
  auto first = Checkpoint();
  ASSERT_TRUE(first.ok());

  // A restarted job restores checkpoint 1 (claim mode) and continues incrementally from it.
  RocksDbBackendOptions o;
  o.backend_id = "op_0";
  o.local_dir = tmp_.Sub("restored-live");
  auto restored = RestoreKeyedStateBackend(storage_, 1, first->backends[0], o, &pool_);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  backend_ = std::move(restored).value();
  strategy_ = std::make_unique<IncrementalSnapshotStrategy>(*backend_, storage_, pool_);
  strategy_->SetBaseFromRestore(1, first->backends[0]);
  coordinator_ = NewCoordinator(1);
  Put(*backend_, 7, "after-restore", &model);
  auto next = Checkpoint();
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_LT(next->backends[0].checkpointed_bytes * 4, next->backends[0].full_bytes)
      << "the first checkpoint after a claimed restore must be incremental";
  EXPECT_EQ(Restore(next->checkpoint_id), model);
  const auto report = Verify();
  EXPECT_TRUE(report.healthy());
  EXPECT_TRUE(report.orphans.empty());
}

TEST_F(IncrementalTest, SwitchingBetweenFullAndIncremental) {
  Model model;
  for (int64_t k = 0; k < 2000; ++k) Put(*backend_, k, "inc", &model);
  ASSERT_TRUE(Checkpoint().ok());  // 1: incremental
  FullSnapshotStrategy full(*backend_, storage_);
  Put(*backend_, 1, "full", &model);
  auto f = testing::TakeCheckpoint(*coordinator_, {{backend_.get(), &full}}, CheckpointKind::kFull);
  ASSERT_TRUE(f.ok());  // 2: full, subsumes 1
  EXPECT_EQ(Restore(2), model);
  auto report = Verify();
  EXPECT_TRUE(report.orphans.empty());
  EXPECT_TRUE(report.healthy());

  // Restore the full checkpoint and go incremental from there.
  RocksDbBackendOptions o;
  o.backend_id = "op_0";
  o.local_dir = tmp_.Sub("from-full");
  backend_ = std::move(RestoreKeyedStateBackend(storage_, 2, f->backends[0], o)).value();
  strategy_ = std::make_unique<IncrementalSnapshotStrategy>(*backend_, storage_, pool_);
  strategy_->SetBaseFromRestore(2, f->backends[0]);
  coordinator_ = NewCoordinator(1);
  Put(*backend_, 2, "inc-again", &model);
  ASSERT_TRUE(Checkpoint().ok());  // 3
  EXPECT_EQ(Restore(3), model);
  report = Verify();
  EXPECT_TRUE(report.orphans.empty());
}

}  // namespace
}  // namespace weir

#include "state/rocksdb/rocksdb_backend_factory.h"

namespace weir {
namespace {

TEST_F(IncrementalTest, ConfigurationChoosesTheStrategy) {
  Configuration config;
  auto full = CreateSnapshotStrategy(config, *backend_, storage_, pool_);
  EXPECT_NE(dynamic_cast<FullSnapshotStrategy*>(full.get()), nullptr) << "full is the default";
  ASSERT_TRUE(config.Set(config::kIncremental, "true").ok());
  auto incremental = CreateSnapshotStrategy(config, *backend_, storage_, pool_);
  EXPECT_NE(dynamic_cast<IncrementalSnapshotStrategy*>(incremental.get()), nullptr);
}

}  // namespace
}  // namespace weir
