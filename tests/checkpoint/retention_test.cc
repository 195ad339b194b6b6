// Retention and pruning over a long history: 200 incremental checkpoints under continuous random
// updates (enough flushes to trigger RocksDB compactions), then a restart that rebuilds the
// registry from disk.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "checkpoint/checkpoint_verifier.h"
#include "state/rocksdb/rocksdb_restore_operation.h"
#include "testing/checkpoint_helpers.h"
#include "testing/temp_dir.h"

namespace weir {
namespace {

using Model = std::map<int64_t, std::string>;

class RetentionTest : public ::testing::TestWithParam<int> {
 protected:
  static constexpr int kKeys = 20000;
  static constexpr int kCheckpoints = 200;

  void SetUp() override {
    ASSERT_TRUE(storage_.Initialize().ok());
    RocksDbBackendOptions o;
    o.backend_id = "op_0";
    o.local_dir = tmp_.Sub("live");
    backend_ = std::move(RocksDbKeyedStateBackend::Open(o)).value();
    state_ = *backend_->GetValueState(ValueStateDescriptor<std::string>{"v"});
    strategy_ = std::make_unique<IncrementalSnapshotStrategy>(*backend_, storage_, pool_);
  }

  std::unique_ptr<CheckpointCoordinator> NewCoordinator(int num_retained) {
    auto c = std::make_unique<CheckpointCoordinator>(storage_,
                                                     CoordinatorOptions{"job", num_retained, {}});
    EXPECT_TRUE(c->Recover().ok());
    c->AddListener(strategy_.get());
    return c;
  }

  void Update(std::mt19937_64& rng, int writes) {
    auto ints = DefaultSerializer<int64_t>();
    for (int i = 0; i < writes; ++i) {
      const int64_t k = static_cast<int64_t>(rng() % kKeys);
      ASSERT_TRUE(backend_->SetCurrentKey(*ints, k).ok());
      if (rng() % 10 == 0) {
        ASSERT_TRUE(state_->Clear().ok());
        model_.erase(k);
      } else {
        const std::string v = std::to_string(rng()) + std::string(80, 'p');
        ASSERT_TRUE(state_->Update(v).ok());
        model_[k] = v;
      }
    }
  }

  Model Restore(uint64_t id) {
    auto m = ReadCheckpointMetadata(storage_.fs(), storage_.MetadataPath(id));
    EXPECT_TRUE(m.ok());
    RocksDbBackendOptions o;
    o.backend_id = "op_0";
    o.local_dir = tmp_.Sub("restore");
    auto b = RestoreKeyedStateBackend(storage_, id, m->backends[0], o, &pool_);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    Model out;
    if (!b.ok()) return out;
    auto v = *(*b)->GetValueState(ValueStateDescriptor<std::string>{"v"});
    auto ints = DefaultSerializer<int64_t>();
    const auto keys = (*b)->GetKeys("v", *ints);
    for (int64_t k : *keys) {
      EXPECT_TRUE((*b)->SetCurrentKey(*ints, k).ok());
      out[k] = **v->Value();
    }
    return out;
  }

  VerifyReport Verify(CheckpointCoordinator& c) {
    c.cleaner().WaitIdle();
    auto r = VerifyJobDirectory(storage_);
    EXPECT_TRUE(r.ok());
    return *r;
  }

  testing::TempDir tmp_;
  ThreadPool pool_{4};
  CheckpointStorage storage_ =
      CheckpointStorage::ForJob(NewPosixFileSystem(), tmp_.Sub("ckpt"), "job");
  std::unique_ptr<RocksDbKeyedStateBackend> backend_;
  ValueState<std::string>* state_ = nullptr;
  std::unique_ptr<IncrementalSnapshotStrategy> strategy_;
  Model model_;
};

TEST_P(RetentionTest, LongHistoryConsolidatesItself) {
  const int k = GetParam();
  auto coordinator = NewCoordinator(k);
  std::mt19937_64 rng(k);
  Update(rng, kKeys);
  std::map<uint64_t, Model> models;
  // Compactions merge SSTs: some checkpoint references fewer shared files than one before it.
  // (Not necessarily after the largest count: on a loaded machine compactions lag, and the
  // largest count can be the last checkpoint's.)
  size_t most_shared_files = 0;
  bool merged = false;
  for (int i = 0; i < kCheckpoints; ++i) {
    ASSERT_NO_FATAL_FAILURE(Update(rng, 400));
    auto m = testing::TakeCheckpoint(*coordinator, {{backend_.get(), strategy_.get()}});
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    models[m->checkpoint_id] = model_;
    while (static_cast<int>(models.size()) > k) models.erase(models.begin());
    size_t shared = 0;
    for (const auto& f : m->backends[0].files) shared += f.role == StateFileRole::kShared;
    merged = merged || shared < most_shared_files;
    most_shared_files = std::max(most_shared_files, shared);
  }
  EXPECT_TRUE(merged) << "no compaction ever merged SSTs";

  const auto retained = coordinator->RetainedIds();
  ASSERT_EQ(static_cast<int>(retained.size()), k);
  auto report = Verify(*coordinator);
  EXPECT_TRUE(report.healthy());
  EXPECT_TRUE(report.missing.empty());
  EXPECT_TRUE(report.orphans.empty()) << report.orphans.size() << " orphans, e.g. "
                                      << (report.orphans.empty() ? "" : report.orphans[0].path);
  EXPECT_EQ(report.checkpoints, retained);
  const uint64_t live = coordinator->Latest()->FullBytes();
  const double ratio = static_cast<double>(report.total_bytes) / static_cast<double>(live);
  std::printf(
      "num-retained %d: checkpoint directory %llu bytes, live state %llu bytes, ratio %.2f\n", k,
      (unsigned long long)report.total_bytes, (unsigned long long)live, ratio);
  EXPECT_LE(ratio, k + 1.0);
  for (uint64_t id : retained) EXPECT_EQ(Restore(id), models.at(id)) << "checkpoint " << id;

  // A restart rebuilds the store and registry from the retained checkpoints' metadata.
  const auto references = [&] {
    CompletedCheckpointStore rebuilt(k);
    EXPECT_TRUE(RecoverCompletedCheckpointStore(storage_, &rebuilt).ok());
    return rebuilt.registry().references();
  }();
  coordinator.reset();
  coordinator = NewCoordinator(k);
  EXPECT_EQ(coordinator->RetainedIds(), retained);
  CompletedCheckpointStore fresh(k);
  ASSERT_TRUE(RecoverCompletedCheckpointStore(storage_, &fresh).ok());
  EXPECT_EQ(fresh.registry().references(), references);
  for (int i = 0; i < 20; ++i) {
    ASSERT_NO_FATAL_FAILURE(Update(rng, 400));
    auto m = testing::TakeCheckpoint(*coordinator, {{backend_.get(), strategy_.get()}});
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_GT(m->checkpoint_id, retained.back()) << "ids keep increasing across restarts";
  }
  report = Verify(*coordinator);
  EXPECT_TRUE(report.healthy());
  EXPECT_TRUE(report.orphans.empty()) << "the rebuilt registry kept an unreferenced file";
  EXPECT_EQ(Restore(coordinator->Latest()->checkpoint_id), model_);

  // Restarting with fewer retained checkpoints subsumes the surplus at once.
  coordinator.reset();
  coordinator = NewCoordinator(1);
  report = Verify(*coordinator);
  EXPECT_EQ(report.checkpoints.size(), 1u);
  EXPECT_TRUE(report.healthy());
  EXPECT_TRUE(report.orphans.empty());
  EXPECT_EQ(Restore(report.checkpoints[0]), model_);
}

INSTANTIATE_TEST_SUITE_P(NumRetained, RetentionTest, ::testing::Values(1, 3));

}  // namespace
}  // namespace weir
