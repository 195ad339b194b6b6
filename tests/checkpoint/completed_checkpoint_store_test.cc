#include "checkpoint/completed_checkpoint_store.h"

#include <gtest/gtest.h>

#include "checkpoint/shared_state_registry.h"

namespace weir {
namespace {

// A checkpoint whose single backend references `shared` (paths) plus one private file.
CheckpointMetadata Checkpoint(uint64_t id, std::vector<std::string> shared) {
  CheckpointMetadata m;
  m.checkpoint_id = id;
  m.kind = CheckpointKind::kIncremental;
  KeyedStateHandle h;
  h.backend_id = "op";
  h.key_group_range = KeyGroupRange::All(128);
  for (const auto& p : shared) h.files.push_back({p, 1, 0, StateFileRole::kShared, p, id});
  h.files.push_back({"chk-" + std::to_string(id) + "/op/MANIFEST", 1, 0, StateFileRole::kPrivate,
                     "MANIFEST", id});
  m.backends.push_back(h);
  return m;
}

TEST(SharedStateRegistryTest, FileGoesWhenTheLastReferenceGoes) {
  SharedStateRegistry r;
  r.Register(Checkpoint(1, {"shared/a", "shared/b"}));
  r.Register(Checkpoint(2, {"shared/b", "shared/c"}));
  EXPECT_EQ(r.size(), 3u);
  EXPECT_FALSE(r.IsReferenced("chk-1/op/MANIFEST")) << "private files are not shared state";
  EXPECT_EQ(r.Release(1), std::vector<std::string>{"shared/a"});
  EXPECT_TRUE(r.IsReferenced("shared/b"));
  EXPECT_EQ(r.Release(2), (std::vector<std::string>{"shared/b", "shared/c"}));
  EXPECT_EQ(r.size(), 0u);
  EXPECT_TRUE(r.Release(2).empty());
}

TEST(CompletedCheckpointStoreTest, RetainsNumRetainedAndReleasesWhatNoneNeeds) {
  CompletedCheckpointStore store(2);
  auto p1 = store.Add(Checkpoint(1, {"shared/a", "shared/b"}));
  ASSERT_TRUE(p1.ok());
  EXPECT_TRUE(p1->empty());
  auto p2 = store.Add(Checkpoint(2, {"shared/b", "shared/c"}));
  EXPECT_TRUE(p2->empty());
  auto p3 = store.Add(Checkpoint(3, {"shared/c", "shared/d"}));
  ASSERT_TRUE(p3.ok());
  EXPECT_EQ(p3->checkpoints, std::vector<uint64_t>{1});
  EXPECT_EQ(p3->shared_files, std::vector<std::string>{"shared/a"});  // b is still in 2
  EXPECT_EQ(store.RetainedIds(), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(store.Latest()->checkpoint_id, 3u);
}

TEST(CompletedCheckpointStoreTest, SharedFileOfSubsumedAndNewCheckpointSurvives) {
  CompletedCheckpointStore store(1);
  ASSERT_TRUE(store.Add(Checkpoint(1, {"shared/a"})).ok());
  auto p = store.Add(Checkpoint(2, {"shared/a", "shared/b"}));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->checkpoints, std::vector<uint64_t>{1});
  EXPECT_TRUE(p->shared_files.empty());
  EXPECT_TRUE(store.registry().IsReferenced("shared/a"));
}

TEST(CompletedCheckpointStoreTest, RefusesACheckpointOlderThanTheLatest) {
  CompletedCheckpointStore store(3);
  ASSERT_TRUE(store.Add(Checkpoint(5, {})).ok());
  EXPECT_EQ(store.Add(Checkpoint(4, {})).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store.Add(Checkpoint(5, {})).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store.RetainedIds(), std::vector<uint64_t>{5});
}

TEST(CompletedCheckpointStoreTest, LatestIsAlwaysRetained) {
  CompletedCheckpointStore store(0);  // clamped to 1
  ASSERT_TRUE(store.Add(Checkpoint(1, {"shared/a"})).ok());
  EXPECT_EQ(store.RetainedIds(), std::vector<uint64_t>{1});
  EXPECT_TRUE(store.registry().IsReferenced("shared/a"));
}

}  // namespace
}  // namespace weir

namespace weir {
namespace {

// A pending checkpoint's acknowledgement of `files`, each written by checkpoint `written_by`.
std::vector<KeyedStateHandle> Reusing(uint64_t written_by, std::vector<std::string> files) {
  KeyedStateHandle h;
  h.backend_id = "op";
  for (const auto& p : files) h.files.push_back({p, 1, 0, StateFileRole::kShared, p, written_by});
  return {h};
}

TEST(PendingReferencesTest, SubsumedCheckpointKeepsItsFilesForCheckpointsInFlight) {
  CompletedCheckpointStore store(1);
  store.AddPending(1);
  ASSERT_TRUE(store.Add(Checkpoint(1, {"shared/a"})).ok());
  store.AddPending(2);  // started before 1's notification: built on nothing
  store.AddPending(3);  // built on 1: reuses shared/a
  auto completed2 = store.Add(Checkpoint(2, {"shared/b"}));
  ASSERT_TRUE(completed2.ok());
  EXPECT_EQ(completed2->checkpoints, std::vector<uint64_t>{1});
  EXPECT_TRUE(completed2->shared_files.empty()) << "3 may still complete with shared/a";
  ASSERT_TRUE(store.HoldForPending(3, Reusing(1, {"shared/a"})).ok());
  auto completed3 = store.Add(Checkpoint(3, {"shared/a", "shared/c"}));
  ASSERT_TRUE(completed3.ok());
  EXPECT_EQ(completed3->shared_files, std::vector<std::string>{"shared/b"});
  EXPECT_TRUE(store.registry().IsReferenced("shared/a"));
  EXPECT_TRUE(store.SubsumedStillHeld().empty());
}

TEST(PendingReferencesTest, AbortOfTheLastPendingReleasesWhatASubsumedCheckpointKept) {
  CompletedCheckpointStore store(1);
  ASSERT_TRUE(store.Add(Checkpoint(1, {"shared/a"})).ok());
  store.AddPending(2);
  store.AddPending(3);
  auto completed2 = store.Add(Checkpoint(2, {"shared/b"}));
  EXPECT_TRUE(completed2->shared_files.empty());
  EXPECT_EQ(store.SubsumedStillHeld(), std::vector<uint64_t>{1});
  DiscardPlan aborted3 = store.RemovePending(3);
  EXPECT_EQ(aborted3.shared_files, std::vector<std::string>{"shared/a"});
  EXPECT_TRUE(store.SubsumedStillHeld().empty());
}

TEST(PendingReferencesTest, AcknowledgementReusingAReleasedFileIsRefused) {
  CompletedCheckpointStore store(1);
  ASSERT_TRUE(store.Add(Checkpoint(1, {"shared/a"})).ok());
  auto plan = store.Add(Checkpoint(2, {"shared/b"}));
  EXPECT_EQ(plan->shared_files, std::vector<std::string>{"shared/a"});
  // 3 started after 1 was released, on a task that had not heard of 2 yet.
  store.AddPending(3);
  const Status held = store.HoldForPending(3, Reusing(1, {"shared/a"}));
  EXPECT_EQ(held.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(held.message().find("shared/a"), std::string::npos) << held.message();
  EXPECT_TRUE(store.RemovePending(3).shared_files.empty());
}

TEST(PendingReferencesTest, HeldFileOutlivesTheSubsumptionOfItsWriter) {
  CompletedCheckpointStore store(1);
  ASSERT_TRUE(store.Add(Checkpoint(1, {"shared/a"})).ok());
  store.AddPending(3);
  ASSERT_TRUE(store.HoldForPending(3, Reusing(1, {"shared/a"})).ok());
  store.AddPending(2);
  auto completed2 = store.Add(Checkpoint(2, {"shared/b"}));
  EXPECT_TRUE(completed2->shared_files.empty());
  EXPECT_TRUE(store.registry().IsReferenced("shared/a"));
  // 3 is aborted: nothing else needs shared/a.
  EXPECT_EQ(store.RemovePending(3).shared_files, std::vector<std::string>{"shared/a"});
}

}  // namespace
}  // namespace weir
