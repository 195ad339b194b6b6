// The file sink makes a closed part durable in its snapshot's asynchronous part (after the
// barrier went on, before the task acknowledges). Committed output must survive a power loss
// even when a checkpoint was declined after the sink closed its part and before that
// asynchronous part ran: the next checkpoint lists the part too and must make it durable.
#include <gtest/gtest.h>

#include "aggregate_job.h"
#include "common/failpoint.h"
#include "io/file_system.h"
#include "runtime/job_runtime.h"
#include "testing/fault_injecting_file_system.h"
#include "testing/output_oracle.h"
#include "testing/temp_dir.h"

namespace weir {
namespace {

// Restores the process's default local file system when the test ends.
class ScopedDefaultLocalFileSystem {
 public:
  explicit ScopedDefaultLocalFileSystem(std::shared_ptr<FileSystem> fs)
      : previous_(DefaultLocalFileSystem()) {
    SetDefaultLocalFileSystem(std::move(fs));
  }
  ~ScopedDefaultLocalFileSystem() { SetDefaultLocalFileSystem(previous_); }

 private:
  std::shared_ptr<FileSystem> previous_;
};

void RunAndCutThePower(bool incremental, const char* failpoint, int fire_on_hit) {
  testing::TempDir tmp;
  auto fs = std::make_shared<testing::FaultInjectingFileSystem>(NewPosixFileSystem());
  ScopedDefaultLocalFileSystem scoped(fs);
  Configuration c;
  for (const auto& [k, v] : std::vector<std::pair<std::string_view, std::string>>{
           {config::kParallelism, "2"},
           {config::kIncremental, incremental ? "true" : "false"},
           {config::kInterval, "20ms"},
           {config::kTolerableFailures, "1000"},
           {config::kCheckpointsDir, tmp.Sub("checkpoints")},
           {config::kLocalDir, tmp.Sub("local")}}) {
    ASSERT_TRUE(c.Set(k, v).ok());
  }
  if (failpoint != nullptr) {
    Failpoints::Instance().Set(failpoint, FailpointAction::kError, fire_on_hit);
  }
  auto job = JobRuntime::Create(
      testing::AggregateJob(8000, 50, 20000, tmp.Sub("out"), nullptr, nullptr), c);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  const JobResult result = (*job)->Run();
  const int hits = failpoint != nullptr ? Failpoints::Instance().Hits(failpoint) : 0;
  Failpoints::Instance().ClearAll();
  ASSERT_EQ(result.outcome, JobOutcome::kFinished) << result.status.ToString();
  if (failpoint != nullptr) {
    ASSERT_GE(hits, fire_on_hit) << failpoint << " never fired";
  }
  // Everything that was not made durable is gone; the committed output must still be whole.
  ASSERT_TRUE(fs->DropUnsyncedData().ok());
  const Status output =
      testing::CheckRunningCounts(tmp.Sub("out"), testing::KeyedAggregateTotals(8000, 50));
  EXPECT_TRUE(output.ok()) << output.ToString();
}

TEST(FileSinkDurabilityTest, CommittedOutputSurvivesAPowerLoss) {
  RunAndCutThePower(/*incremental=*/true, nullptr, 0);
}

TEST(FileSinkDurabilityTest, APartOfADeclinedCheckpointIsMadeDurableByTheNextOne) {
  // Declined after the sink closed its part, before the asynchronous part could sync it.
  RunAndCutThePower(/*incremental=*/true, "task.backend_snapshot", 3);
}

TEST(FileSinkDurabilityTest, APartWhoseAsynchronousPartWasDeclinedLaterIsDurable) {
  // Declined after the asynchronous part synced the sink's part (full checkpoints).
  RunAndCutThePower(/*incremental=*/false, "task.ack", 2);
}

}  // namespace
}  // namespace weir
