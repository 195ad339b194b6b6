// A damaged latest checkpoint: restore detects it before using any state and
// fails naming the file, or, with state.checkpoints.fallback-to-older, restores the newest intact
// older checkpoint and says so.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "aggregate_job.h"
#include "checkpoint/checkpoint_metadata.h"
#include "runtime/job_runtime.h"
#include "splitmix64.h"
#include "testing/checkpoint_helpers.h"
#include "testing/output_oracle.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"
#include "weir/connectors.h"
#include "weir/job.h"

namespace weir {
namespace {

using testing::AggregateJob;
using testing::Event;

constexpr uint64_t kEvents = 16000, kKeys = 150;

JobGraph Job(const std::string& out) {
  return AggregateJob(kEvents, kKeys, 10000, out, nullptr, nullptr);
}

Configuration Config(const testing::TempDir& tmp, bool incremental) {
  Configuration c;
  for (const auto& [k, v] : std::vector<std::pair<std::string_view, std::string>>{
           {config::kParallelism, "2"},
           {config::kIncremental, incremental ? "true" : "false"},
           {config::kInterval, "40ms"},
           {config::kCheckpointsDir, tmp.Sub("checkpoints")},
           {config::kLocalDir, tmp.Sub("local")},
           {config::kNumRetained, "3"},
           {config::kRestartStrategy, "none"}}) {
    EXPECT_TRUE(c.Set(k, v).ok());
  }
  return c;
}

class DamagedCheckpointTest : public ::testing::TestWithParam<bool> {};

TEST_P(DamagedCheckpointTest, FailsNamingTheFileOrFallsBackWhenAllowed) {
  const bool incremental = GetParam();
  testing::TempDir tmp;
  // A job cancelled part-way, with three retained checkpoints.
  std::string latest;
  {
    auto job = JobRuntime::Create(Job(tmp.Sub("out")), Config(tmp, incremental));
    ASSERT_TRUE(job.ok());
    std::thread cancel([&] {
      // Three completed checkpoints: the latest, and two older ones to fall back to.
      testing::WaitFor([&] { return (*job)->completed_checkpoints().size() >= 3; });
      (*job)->Cancel();
    });
    const JobResult result = (*job)->Run();
    cancel.join();
    ASSERT_EQ(result.outcome, JobOutcome::kCancelled);
    ASSERT_TRUE(result.latest_checkpoint.has_value());
    latest = result.latest_checkpoint_path;
  }
  // Damage a file that only the latest checkpoint wrote.
  auto fs = NewPosixFileSystem();
  auto metadata = ReadCheckpointMetadata(*fs, latest);
  ASSERT_TRUE(metadata.ok());
  std::string victim;
  for (const auto& b : metadata->backends) {
    for (const auto& f : b.files) {
      if (f.written_by_checkpoint == metadata->checkpoint_id && f.size > 16) victim = f.path;
    }
  }
  ASSERT_FALSE(victim.empty());
  const std::string job_dir = ParentPath(ParentPath(latest));
  testing::FlipByte(JoinPath(job_dir, victim), testing::FileSize(JoinPath(job_dir, victim)) / 2);

  // Without the option: the job fails, naming the file and the checkpoint.
  Configuration strict = Config(tmp, incremental);
  ASSERT_TRUE(strict.Set(config::kSavepointPath, latest).ok());
  {
    auto job = JobRuntime::Create(Job(tmp.Sub("out")), strict);
    ASSERT_TRUE(job.ok());
    const JobResult result = (*job)->Run();
    EXPECT_EQ(result.outcome, JobOutcome::kFailed);
    EXPECT_NE(result.status.message().find(victim), std::string::npos) << result.status.message();
    EXPECT_NE(result.status.message().find("checkpoint " + std::to_string(metadata->checkpoint_id)),
              std::string::npos)
        << result.status.message();
  }
  // With it: the newest intact older checkpoint is restored and the job completes.
  Configuration lenient = strict;
  ASSERT_TRUE(lenient.Set(config::kFallbackToOlder, "true").ok());
  auto job = JobRuntime::Create(Job(tmp.Sub("out")), lenient);
  ASSERT_TRUE(job.ok());
  const JobResult result = (*job)->Run();
  ASSERT_EQ(result.outcome, JobOutcome::kFinished) << result.status.ToString();
  // State is exact (final counts and sums); output committed after the older checkpoint is
  // written twice, which the option documents.
  const Status s = testing::CheckRunningCounts(
      tmp.Sub("out"), testing::KeyedAggregateTotals(kEvents, kKeys), /*allow_duplicates=*/true);
  EXPECT_TRUE(s.ok()) << s.message();
}

INSTANTIATE_TEST_SUITE_P(Runtime, DamagedCheckpointTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Incremental" : "Full"; });

}  // namespace
}  // namespace weir
