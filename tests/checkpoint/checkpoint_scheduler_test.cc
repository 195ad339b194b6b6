#include "checkpoint/checkpoint_scheduler.h"

#include <gtest/gtest.h>

namespace weir {
namespace {

CheckpointSchedulerOptions Every(int64_t interval_ms) {
  CheckpointSchedulerOptions o;
  o.interval_ms = interval_ms;
  return o;
}

TEST(CheckpointSchedulerTest, OffWhenNoInterval) {
  CheckpointScheduler s(Every(0), 0);
  EXPECT_FALSE(s.ShouldTrigger(1'000'000));
  EXPECT_FALSE(s.NextTriggerTime().has_value());
}

TEST(CheckpointSchedulerTest, TriggersOnTheIntervalAfterThePreviousTrigger) {
  CheckpointScheduler s(Every(1000), 0);
  EXPECT_FALSE(s.ShouldTrigger(999));
  EXPECT_TRUE(s.ShouldTrigger(1000));
  s.OnTriggered(1, 1000);
  s.OnCompleted(1, 1100);
  EXPECT_EQ(s.NextTriggerTime(), 2000);
  EXPECT_FALSE(s.ShouldTrigger(1999));
  EXPECT_TRUE(s.ShouldTrigger(2000));
}

TEST(CheckpointSchedulerTest, MaxConcurrentBlocksUntilOneEnds) {
  auto o = Every(100);
  o.max_concurrent = 2;
  CheckpointScheduler s(o, 0);
  s.OnTriggered(1, 100);
  EXPECT_TRUE(s.ShouldTrigger(200));
  s.OnTriggered(2, 200);
  EXPECT_FALSE(s.ShouldTrigger(10'000));
  EXPECT_FALSE(s.NextTriggerTime().has_value());
  s.OnCompleted(1, 350);
  EXPECT_TRUE(s.ShouldTrigger(350));
}

TEST(CheckpointSchedulerTest, MinPauseCountsFromTheEndOfThePreviousCheckpoint) {
  auto o = Every(100);
  o.min_pause_ms = 500;
  o.max_concurrent = 3;  // min pause implies one at a time
  CheckpointScheduler s(o, 0);
  EXPECT_FALSE(s.ShouldTrigger(499));
  EXPECT_TRUE(s.ShouldTrigger(500));
  s.OnTriggered(1, 500);
  EXPECT_FALSE(s.ShouldTrigger(700));
  s.OnCompleted(1, 900);
  EXPECT_EQ(s.NextTriggerTime(), 1400);
}

TEST(CheckpointSchedulerTest, PendingCheckpointsExpireAfterTheTimeout) {
  auto o = Every(100);
  o.timeout_ms = 1000;
  o.max_concurrent = 2;
  CheckpointScheduler s(o, 0);
  s.OnTriggered(1, 100);
  s.OnTriggered(2, 600);
  EXPECT_TRUE(s.Expired(1099).empty());
  EXPECT_EQ(s.Expired(1100), std::vector<uint64_t>{1});
  EXPECT_EQ(s.Expired(1600), (std::vector<uint64_t>{1, 2}));
}

TEST(CheckpointSchedulerTest, ConsecutiveFailuresPastTheTolerance) {
  auto o = Every(100);
  o.tolerable_failures = 1;
  CheckpointScheduler s(o, 0);
  s.OnTriggered(1, 100);
  s.OnFailed(1);
  s.OnAborted(1, 150);
  s.OnFailed(1);  // declined by a second task: one failure still
  EXPECT_FALSE(s.FailuresExceedTolerance());
  s.OnTriggered(2, 200);
  s.OnCompleted(2, 250);  // a success resets the count
  s.OnTriggered(3, 300);
  s.OnAborted(3, 350);  // reported aborted before its failure: the failure still counts
  s.OnFailed(3);
  s.OnTriggered(4, 400);
  s.OnAborted(4, 450);  // aborted without failing (the tasks stopped): not a failure
  EXPECT_FALSE(s.FailuresExceedTolerance());
  s.OnTriggered(5, 500);
  s.OnFailed(5);
  EXPECT_TRUE(s.FailuresExceedTolerance());
  EXPECT_EQ(s.consecutive_failures(), 2);
  // Outcomes of checkpoints it does not know change nothing; a restart starts from zero.
  s.OnCompleted(99, 600);
  s.Reset(700);
  EXPECT_FALSE(s.FailuresExceedTolerance());
}

// The final checkpoint of a bounded job may complete before an older periodic one, which is then
// subsumed: that abort is not a failure, in whatever order the two are reported.
TEST(CheckpointSchedulerTest, SubsumedCheckpointsAreNotFailures) {
  auto o = Every(100);
  o.max_concurrent = 2;
  CheckpointScheduler s(o, 0);
  s.OnTriggered(21, 100);
  s.OnTriggered(22, 150);
  s.OnAborted(21, 160);
  s.OnCompleted(22, 170);
  s.OnFailed(21);  // even if something reports it failed afterwards
  EXPECT_EQ(s.consecutive_failures(), 0);
  EXPECT_EQ(s.pending_count(), 0u);
}

TEST(CheckpointSchedulerTest, ResetForgetsPendingCheckpoints) {
  CheckpointScheduler s(Every(100), 0);
  s.OnTriggered(1, 100);
  s.Reset(5000);
  EXPECT_EQ(s.pending_count(), 0u);
  EXPECT_FALSE(s.ShouldTrigger(5099));
  EXPECT_TRUE(s.ShouldTrigger(5100));
}

}  // namespace
}  // namespace weir
