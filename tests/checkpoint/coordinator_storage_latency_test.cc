// The coordinator never waits on storage while it holds its lock: with every write of one
// checkpoint's _metadata slowed down by 2 s, acknowledgements of other checkpoints, aborts and
// the readers the REST API uses are answered while that completion is still under way.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "checkpoint/checkpoint_coordinator.h"
#include "testing/fault_injecting_file_system.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace weir {
namespace {

constexpr int kLatencyMs = 2000;

class CoordinatorStorageLatencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = std::make_shared<testing::FaultInjectingFileSystem>(NewPosixFileSystem());
    storage_.emplace(fs_, dir_.Sub("job"));
    coordinator_ =
        std::make_unique<CheckpointCoordinator>(*storage_, CoordinatorOptions{"job", 1, {}});
    ASSERT_TRUE(coordinator_->Recover().ok());
  }

  // A task's acknowledgement of checkpoint `id` with one file that checkpoint uploaded.
  TaskStateSnapshot Snapshot(uint64_t id, const std::string& task) {
    const std::string rel = CheckpointStorage::CheckpointDirName(id) + "/" + task + ".state";
    EXPECT_TRUE(fs_->CreateDirs(storage_->CheckpointDir(id)).ok());
    EXPECT_TRUE(fs_->PublishAtomically(storage_->job_dir() + "/" + rel, "state").ok());
    KeyedStateHandle h;
    h.backend_id = task;
    h.key_group_range = KeyGroupRange{0, kDefaultMaxParallelism - 1};
    h.files.push_back({rel, 5, 0, StateFileRole::kFullSnapshot, "", id});
    TaskStateSnapshot s;
    s.task_id = task;
    s.backends.push_back(std::move(h));
    return s;
  }

  bool Exists(uint64_t id, const std::string& task) {
    return *fs_->Exists(storage_->CheckpointDir(id) + "/" + task + ".state");
  }

  // Completes `id` (its last acknowledgement) on another thread, its _metadata slowed down.
  std::thread CompleteSlowly(uint64_t id, const std::string& task,
                             CheckpointCoordinator::AckResult* out, std::atomic<bool>* settled) {
    fs_->AddRule({testing::FsOp::kCreate, CheckpointStorage::CheckpointDirName(id) + "/_metadata",
                  0, -1, true, kLatencyMs});
    TaskStateSnapshot s = Snapshot(id, task);
    std::thread t([this, id, s = std::move(s), out, settled]() mutable {
      *out = coordinator_->Acknowledge(id, std::move(s), 1000);
      settled->store(true);
    });
    // Its last acknowledgement was taken: the completion is with the I/O thread.
    testing::WaitFor([&] {
      const auto pending = coordinator_->PendingIds();
      return std::find(pending.begin(), pending.end(), id) == pending.end();
    });
    return t;
  }

  static int64_t ElapsedMs(std::chrono::steady_clock::time_point since) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 since)
        .count();
  }

  testing::TempDir dir_;
  std::shared_ptr<testing::FaultInjectingFileSystem> fs_;
  std::optional<CheckpointStorage> storage_;
  std::unique_ptr<CheckpointCoordinator> coordinator_;
};

TEST_F(CoordinatorStorageLatencyTest, OthersAreAnsweredWhileAMetadataWriteIsSlow) {
  const uint64_t slow = *coordinator_->StartCheckpoint(CheckpointKind::kFull, {"a"}, 0);
  const uint64_t other = *coordinator_->StartCheckpoint(CheckpointKind::kFull, {"a", "b"}, 0);
  const uint64_t aborted = *coordinator_->StartCheckpoint(CheckpointKind::kFull, {"a"}, 0);
  CheckpointCoordinator::AckResult slow_result = std::optional<CheckpointMetadata>();
  std::atomic<bool> settled{false};
  std::thread completing = CompleteSlowly(slow, "a", &slow_result, &settled);

  const auto start = std::chrono::steady_clock::now();
  // Another checkpoint's acknowledgement.
  auto ack = coordinator_->Acknowledge(other, Snapshot(other, "a"), 1000);
  ASSERT_TRUE(ack.ok()) << ack.status().ToString();
  EXPECT_FALSE(ack->has_value());
  const int64_t ack_ms = ElapsedMs(start);
  // An abort, which also deletes what the aborted checkpoint uploaded.
  auto abort_start = std::chrono::steady_clock::now();
  EXPECT_TRUE(coordinator_->Abort(aborted, "test"));
  const int64_t abort_ms = ElapsedMs(abort_start);
  // What the REST API and the metrics read.
  auto read_start = std::chrono::steady_clock::now();
  const CheckpointStatsSnapshot stats = coordinator_->stats().Snapshot();
  EXPECT_FALSE(coordinator_->Latest().has_value());
  EXPECT_TRUE(coordinator_->Retained().empty());
  EXPECT_EQ(coordinator_->PendingIds(), std::vector<uint64_t>{other});
  const int64_t read_ms = ElapsedMs(read_start);
  // A duplicate acknowledgement of the completing checkpoint is refused; its file stays.
  auto duplicate = coordinator_->Acknowledge(slow, Snapshot(slow, "a"), 1000);
  EXPECT_EQ(duplicate.status().code(), StatusCode::kInvalidArgument);

  // All of it happened while the slow completion was still writing.
  EXPECT_FALSE(settled.load()) << "the calls above waited for the slow _metadata";
  EXPECT_EQ(stats.in_progress, 2u);  // the slow one (completing) and `other`
  std::printf(
      "while checkpoint %llu's _metadata took %d ms: ack %lld ms, abort %lld ms, "
      "reads %lld ms\n",
      static_cast<unsigned long long>(slow), kLatencyMs, static_cast<long long>(ack_ms),
      static_cast<long long>(abort_ms), static_cast<long long>(read_ms));

  completing.join();
  ASSERT_TRUE(slow_result.ok()) << slow_result.status().ToString();
  ASSERT_TRUE(slow_result->has_value());
  EXPECT_EQ(coordinator_->Latest()->checkpoint_id, slow);
  EXPECT_TRUE(Exists(slow, "a"));
  coordinator_->cleaner().WaitIdle();
  EXPECT_FALSE(*fs_->Exists(storage_->CheckpointDir(aborted)));

  // `other` completes after it, as the newer checkpoint.
  auto last = coordinator_->Acknowledge(other, Snapshot(other, "b"), 2000);
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  ASSERT_TRUE(last->has_value());
  EXPECT_EQ(coordinator_->RetainedIds(), std::vector<uint64_t>{other});
}

// A checkpoint fully acknowledged while a newer one is completing cannot become the latest: it
// is aborted (not failed: nothing went wrong with storage) and what it uploaded is deleted.
TEST_F(CoordinatorStorageLatencyTest, AnOlderCheckpointQueuedBehindANewerOneIsAborted) {
  const uint64_t older = *coordinator_->StartCheckpoint(CheckpointKind::kFull, {"a"}, 0);
  const uint64_t newer = *coordinator_->StartCheckpoint(CheckpointKind::kFull, {"a"}, 0);
  CheckpointCoordinator::AckResult newer_result = std::optional<CheckpointMetadata>();
  std::atomic<bool> settled{false};
  std::thread completing = CompleteSlowly(newer, "a", &newer_result, &settled);

  auto result = coordinator_->Acknowledge(older, Snapshot(older, "a"), 1000);
  completing.join();
  ASSERT_TRUE(newer_result.ok() && newer_result->has_value());
  EXPECT_EQ(result.status().code(), StatusCode::kAborted) << result.status().ToString();
  EXPECT_EQ(coordinator_->RetainedIds(), std::vector<uint64_t>{newer});
  EXPECT_FALSE(*fs_->Exists(storage_->MetadataPath(older)));
  coordinator_->cleaner().WaitIdle();
  EXPECT_FALSE(Exists(older, "a"));
  EXPECT_TRUE(Exists(newer, "a"));
  const auto stats = coordinator_->stats().Find(older);
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->status, CheckpointStatus::kFailed);
}

// AbortAll waits for completions under way: once it returns, the latest checkpoint is settled
// (the runtime restores from it after a failure).
TEST_F(CoordinatorStorageLatencyTest, AbortAllWaitsForCompletionsUnderWay) {
  const uint64_t id = *coordinator_->StartCheckpoint(CheckpointKind::kFull, {"a"}, 0);
  const uint64_t pending = *coordinator_->StartCheckpoint(CheckpointKind::kFull, {"a"}, 0);
  CheckpointCoordinator::AckResult result = std::optional<CheckpointMetadata>();
  std::atomic<bool> settled{false};
  std::thread completing = CompleteSlowly(id, "a", &result, &settled);
  coordinator_->AbortAll("the job's tasks stopped");
  EXPECT_EQ(coordinator_->Latest()->checkpoint_id, id);
  EXPECT_TRUE(coordinator_->PendingIds().empty());
  completing.join();
  ASSERT_TRUE(result.ok() && result->has_value());
  EXPECT_EQ(coordinator_->stats().Find(pending)->status, CheckpointStatus::kFailed);
}

}  // namespace
}  // namespace weir
