// A running job whose checkpoint storage misbehaves: transient errors are
// retried, a storage outage fails checkpoints (aborted, counted against the tolerance) while the
// job keeps processing, and checkpoints succeed again once storage recovers. Afterwards every
// retained checkpoint is intact and nothing an aborted checkpoint wrote is referenced or left.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "aggregate_job.h"
#include "checkpoint/checkpoint_verifier.h"
#include "runtime/job_runtime.h"
#include "splitmix64.h"
#include "testing/fault_injecting_file_system.h"
#include "testing/output_oracle.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"
#include "weir/connectors.h"
#include "weir/job.h"

namespace weir {
namespace {

using testing::AggregateJob;
using testing::Event;

class StorageFaultsTest : public ::testing::TestWithParam<bool> {};

TEST_P(StorageFaultsTest, JobRidesOutTransientErrorsAndAnOutage) {
  const bool incremental = GetParam();
  testing::TempDir tmp;
  const uint64_t events = 24000, keys = 200;
  const JobGraph graph = AggregateJob(events, keys, 12000, tmp.Sub("out"), nullptr, nullptr);
  Configuration c;
  for (const auto& [k, v] : std::vector<std::pair<std::string_view, std::string>>{
           {config::kParallelism, "2"},
           {config::kIncremental, incremental ? "true" : "false"},
           {config::kInterval, "50ms"},
           {config::kCheckpointsDir, tmp.Sub("checkpoints")},
           {config::kLocalDir, tmp.Sub("local")},
           {config::kNumRetained, "3"},
           {config::kTolerableFailures, "1000"},
           {config::kRestartStrategy, "none"}}) {
    ASSERT_TRUE(c.Set(k, v).ok());
  }
  auto fs = std::make_shared<testing::FaultInjectingFileSystem>(NewPosixFileSystem());
  // Slow storage throughout, and a few transient failures that retries absorb.
  fs->AddRule({testing::FsOp::kSync, "", 0, -1, true, 3});
  fs->AddRule({testing::FsOp::kCreate, "chk-", 0, 3, true, 0});
  auto job = JobRuntime::Create(graph, c, fs);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  std::atomic<bool> ended{false};
  std::thread outage([&] {
    // Once two checkpoints completed, storage goes down (every new file fails for good) until
    // checkpoints have failed on it, then comes back.
    testing::WaitFor([&] { return ended || (*job)->completed_checkpoints().size() >= 2; });
    const int before = fs->failures();
    fs->AddRule({testing::FsOp::kCreate, "", 0, -1, false, 0});
    testing::WaitFor([&] { return ended || fs->failures() >= before + 4; });
    fs->ClearRules();
  });
  const JobResult result = (*job)->Run();
  ended = true;
  outage.join();
  ASSERT_EQ(result.outcome, JobOutcome::kFinished) << result.status.ToString();
  EXPECT_EQ(result.restarts, 0);
  EXPECT_GT(fs->failures(), 3);

  // Checkpoints completed before, and again after, the outage; ids in between failed.
  const auto history = (*job)->completed_checkpoints();
  ASSERT_GE(history.size(), 2u);
  uint64_t gaps = 0;
  for (size_t i = 1; i < history.size(); ++i) {
    gaps += history[i].checkpoint_id - history[i - 1].checkpoint_id - 1;
  }
  EXPECT_GT(gaps, 0u) << "no checkpoint failed during the outage";

  Status exact =
      testing::CheckRunningCounts(tmp.Sub("out"), testing::KeyedAggregateTotals(events, keys));
  EXPECT_TRUE(exact.ok()) << exact.message();
  const auto storage = CheckpointStorage(NewPosixFileSystem(), (*job)->job_dir());
  job->reset();  // waits for the cleaner
  auto report = VerifyJobDirectory(storage);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->healthy());
  EXPECT_TRUE(report->missing.empty());
  // Aborted checkpoints' uploads were deleted (an outage can leave a file whose deletion failed
  // too; those are orphans for gc, never referenced).
  for (const auto& o : report->orphans) ADD_FAILURE() << "orphan " << o.path;
}

// Simulated power loss right after the job stops: everything checkpoint storage was not told to
// make durable is dropped. Every completed checkpoint must survive it whole (its files and their
// directory entries were synced before its _metadata was published).
TEST_P(StorageFaultsTest, CompletedCheckpointsSurviveAPowerLoss) {
  const bool incremental = GetParam();
  testing::TempDir tmp;
  const JobGraph graph = AggregateJob(UINT64_MAX / 2, 300, 20000, tmp.Sub("out"), nullptr, nullptr);
  Configuration c;
  for (const auto& [k, v] : std::vector<std::pair<std::string_view, std::string>>{
           {config::kParallelism, "2"},
           {config::kIncremental, incremental ? "true" : "false"},
           {config::kInterval, "30ms"},
           {config::kCheckpointsDir, tmp.Sub("checkpoints")},
           {config::kLocalDir, tmp.Sub("local")},
           {config::kNumRetained, "2"}}) {
    ASSERT_TRUE(c.Set(k, v).ok());
  }
  auto fs = std::make_shared<testing::FaultInjectingFileSystem>(NewPosixFileSystem());
  std::string job_dir;
  {
    auto job = JobRuntime::Create(graph, c, fs);
    ASSERT_TRUE(job.ok());
    job_dir = (*job)->job_dir();
    std::thread stop([&] {
      testing::WaitFor([&] { return (*job)->completed_checkpoints().size() >= 3; });
      (*job)->Cancel();
    });
    EXPECT_EQ((*job)->Run().outcome, JobOutcome::kCancelled);
    stop.join();
  }
  ASSERT_TRUE(fs->DropUnsyncedData().ok());
  auto report = VerifyJobDirectory(CheckpointStorage(NewPosixFileSystem(), job_dir));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_FALSE(report->checkpoints.empty());
  EXPECT_TRUE(report->healthy());
  for (const auto& m : report->missing) ADD_FAILURE() << "missing after power loss: " << m.path;
}

INSTANTIATE_TEST_SUITE_P(Runtime, StorageFaultsTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Incremental" : "Full"; });

}  // namespace
}  // namespace weir
