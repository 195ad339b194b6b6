// Checkpoint statistics: the tracker's bookkeeping (outcomes, counts, bounded history), and the
// figures the coordinator records against what the checkpoints actually wrote.
#include "checkpoint/checkpoint_stats.h"

#include <gtest/gtest.h>

#include "checkpoint/checkpoint_coordinator.h"
#include "testing/checkpoint_helpers.h"
#include "testing/temp_dir.h"

namespace weir {
namespace {

TEST(CheckpointStatsTrackerTest, RecordsOutcomesOnceAndKeepsABoundedHistory) {
  CheckpointStatsTracker t(3);
  for (uint64_t id = 1; id <= 5; ++id) {
    t.ReportPending(id, CheckpointKind::kIncremental, 1000 * static_cast<int64_t>(id), 2);
  }
  SubtaskCheckpointStats a;
  a.task_id = "a";
  a.checkpointed_bytes = 10;
  a.full_bytes = 100;
  t.ReportAcknowledged(4, a);
  a.task_id = "b";
  t.ReportAcknowledged(4, a);
  t.ReportCompleted(4, 4500, "/j/chk-4/_metadata");
  t.ReportFailed(4, 4600, "late");  // completed stays completed
  t.ReportFailed(5, 5100, "declined by task b: disk full");
  t.ReportAcknowledged(5, a);  // after the outcome: ignored
  auto s = t.Snapshot();
  EXPECT_EQ(s.completed, 1u);
  EXPECT_EQ(s.failed, 1u);
  ASSERT_EQ(s.history.size(), 3u);  // 3..5, newest first
  EXPECT_EQ(s.history[0].checkpoint_id, 5u);
  EXPECT_EQ(s.history[2].checkpoint_id, 3u);
  EXPECT_EQ(s.in_progress, 1u);  // 3 (1 and 2 left the history)
  ASSERT_TRUE(s.latest_completed.has_value());
  EXPECT_EQ(s.latest_completed->checkpoint_id, 4u);
  EXPECT_EQ(s.latest_completed->checkpointed_bytes, 20u);
  EXPECT_EQ(s.latest_completed->full_bytes, 200u);
  EXPECT_EQ(s.latest_completed->subtasks.size(), 2u);
  EXPECT_EQ(s.latest_completed->duration_ms(0), 500);
  EXPECT_EQ(s.latest_completed->metadata_path, "/j/chk-4/_metadata");
  ASSERT_TRUE(s.latest_failed.has_value());
  EXPECT_EQ(s.latest_failed->failure_reason, "declined by task b: disk full");
  EXPECT_TRUE(s.latest_failed->subtasks.empty());
  EXPECT_FALSE(t.Find(1).has_value());
  t.ReportRestored({4, "/j/chk-4/_metadata", 9000, 120});
  EXPECT_EQ(t.Snapshot().restored, 1u);
  EXPECT_EQ(t.Snapshot().latest_restore->duration_ms, 120);
}

TEST(CheckpointStatsTrackerTest, ReportsOfCheckpointsOutOfTheHistoryAreIgnored) {
  CheckpointStatsTracker t(1);
  t.ReportPending(1, CheckpointKind::kFull, 0, 1);
  t.ReportPending(2, CheckpointKind::kFull, 0, 1);
  EXPECT_EQ(t.Snapshot().history.size(), 1u);
  EXPECT_FALSE(t.Find(1).has_value());
  t.ReportCompleted(1, 10, "p");
  EXPECT_EQ(t.Snapshot().completed, 0u);
  t.ReportCompleted(2, 10, "p");
  EXPECT_EQ(t.Snapshot().completed, 1u);
}

TEST(CheckpointStatsTest, CoordinatorRecordsWhatTheCheckpointsWrote) {
  testing::TempDir tmp;
  const auto storage = CheckpointStorage::ForJob(NewPosixFileSystem(), tmp.Sub("ckpt"), "job");
  RocksDbBackendOptions o;
  o.backend_id = "op_0";
  o.local_dir = tmp.Sub("live");
  auto backend = std::move(RocksDbKeyedStateBackend::Open(o)).value();
  auto state = *backend->GetValueState(ValueStateDescriptor<std::string>{"v"});
  auto ints = DefaultSerializer<int64_t>();
  ThreadPool pool(2);
  IncrementalSnapshotStrategy strategy(*backend, storage, pool);
  // Every checkpoint retained: their files are read back below (a subsumed one's would go).
  CheckpointCoordinator coordinator(storage, CoordinatorOptions{"job", 10, {}});
  ASSERT_TRUE(coordinator.Recover().ok());
  coordinator.AddListener(&strategy);
  std::vector<CheckpointMetadata> written;
  for (int round = 0; round < 3; ++round) {
    for (int64_t k = 0; k < 2000; ++k) {
      ASSERT_TRUE(backend->SetCurrentKey(*ints, k * (round + 1)).ok());
      ASSERT_TRUE(state->Update(std::string(50, static_cast<char>('a' + round))).ok());
    }
    auto m = testing::TakeCheckpoint(coordinator, {{backend.get(), &strategy}});
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    written.push_back(*m);
  }
  auto pending = coordinator.StartCheckpoint(CheckpointKind::kIncremental, {"op_0"}, 123);
  ASSERT_TRUE(pending.ok());
  ASSERT_TRUE(coordinator.Abort(*pending, "checkpoint expired after 10 min"));

  const auto s = coordinator.stats().Snapshot();
  EXPECT_EQ(s.completed, 3u);
  EXPECT_EQ(s.failed, 1u);
  ASSERT_EQ(s.history.size(), 4u);
  EXPECT_EQ(s.history[0].status, CheckpointStatus::kFailed);
  EXPECT_EQ(s.history[0].failure_reason, "checkpoint expired after 10 min");
  for (const auto& m : written) {
    auto c = coordinator.stats().Find(m.checkpoint_id);
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->status, CheckpointStatus::kCompleted);
    EXPECT_EQ(c->kind, CheckpointKind::kIncremental);
    EXPECT_EQ(c->metadata_path, storage.MetadataPath(m.checkpoint_id));
    EXPECT_EQ(c->checkpointed_bytes, m.CheckpointedBytes());
    EXPECT_EQ(c->full_bytes, m.FullBytes());
    ASSERT_EQ(c->subtasks.size(), 1u);
    uint64_t written_files = 0, reused = 0, on_disk = 0;
    for (const auto& f : m.backends[0].files) {
      (f.written_by_checkpoint == m.checkpoint_id ? written_files : reused)++;
      if (f.written_by_checkpoint == m.checkpoint_id) {
        on_disk += testing::FileSize(storage.job_dir() + "/" + f.path);
      }
    }
    EXPECT_EQ(c->subtasks[0].files_written, written_files);
    EXPECT_EQ(c->subtasks[0].files_reused, reused);
    // The bytes reported are the bytes of the files this checkpoint put into storage.
    EXPECT_EQ(c->subtasks[0].checkpointed_bytes, on_disk);
  }
  // The later incremental checkpoints reuse the earlier ones' files.
  EXPECT_GT(coordinator.stats().Find(written[2].checkpoint_id)->subtasks[0].files_reused, 0u);
  coordinator.cleaner().WaitIdle();
}

}  // namespace
}  // namespace weir
