// The completion fence (how a scaled-out shard fences a former owner), and the final commit: once
// the fence refuses, the
// refused checkpoint does not exist (no _metadata, its files discarded: verify finds nothing
// missing or orphaned), the job fails at once with FailedPrecondition instead of restarting, and
// the exactly-once sink commits nothing past the last checkpoint the fence let complete.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <set>

#include "aggregate_job.h"
#include "checkpoint/checkpoint_verifier.h"
#include "io/file_system.h"
#include "runtime/job_runtime.h"
#include "testing/output_oracle.h"
#include "testing/temp_dir.h"
#include "weir/connectors.h"
#include "weir/job.h"

namespace weir {
namespace {

TEST(CompletionFenceTest, ARefusedCheckpointNeverExistsAndTheJobStopsWithoutRestarting) {
  for (const bool incremental : {false, true}) {
    SCOPED_TRACE(incremental ? "incremental" : "full");
    testing::TempDir tmp;
    Configuration c;
    ASSERT_TRUE(c.Set(config::kParallelism, "2").ok());
    ASSERT_TRUE(c.Set(config::kIncremental, incremental ? "true" : "false").ok());
    ASSERT_TRUE(c.Set(config::kInterval, "40ms").ok());
    ASSERT_TRUE(c.Set(config::kNumRetained, "3").ok());
    ASSERT_TRUE(c.Set(config::kCheckpointsDir, tmp.Sub("checkpoints")).ok());
    ASSERT_TRUE(c.Set(config::kLocalDir, tmp.Sub("local")).ok());
    ASSERT_TRUE(c.Set(config::kRestartDelay, "10ms").ok());
    ASSERT_TRUE(c.Set(config::kRestartAttempts, "20").ok());
    auto job = JobRuntime::Create(
        testing::AggregateJob(200000, 100, 40000, tmp.Sub("out"), nullptr, nullptr), c);
    ASSERT_TRUE(job.ok()) << job.status().ToString();
    std::atomic<int> allowed{0};
    std::atomic<uint64_t> refused{0};
    ASSERT_TRUE((*job)
                    ->SetCompletionFence([&](const CheckpointMetadata& m, const std::string& path) {
                      EXPECT_TRUE(std::filesystem::exists(path)) << "asked before it is durable";
                      if (allowed < 3) {
                        ++allowed;
                        return Status::OK();
                      }
                      refused = m.checkpoint_id;
                      return Status::IOError("shard 0 is owned by epoch 7 now");
                    })
                    .ok());
    const JobResult result = (*job)->Run();
    ASSERT_EQ(result.outcome, JobOutcome::kFailed);
    EXPECT_EQ(result.restarts, 0);
    EXPECT_EQ(result.status.code(), StatusCode::kFailedPrecondition) << result.status.ToString();
    EXPECT_NE(result.status.message().find("owned by epoch 7"), std::string::npos)
        << result.status.ToString();
    ASSERT_GT(refused.load(), 0u);
    const auto completed = (*job)->completed_checkpoints();
    ASSERT_EQ(completed.size(), 3u);
    const std::string job_dir = (*job)->job_dir();
    EXPECT_FALSE(
        std::filesystem::exists(job_dir + "/chk-" + std::to_string(refused.load()) + "/_metadata"));
    CheckpointStorage storage(NewPosixFileSystem(), job_dir);
    auto report = VerifyJobDirectory(storage);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_TRUE(report->healthy());
    EXPECT_EQ(report->checkpoints.size(), 3u);
    for (const auto& o : report->orphans) ADD_FAILURE() << "orphan " << o.path;
    // The output committed is exactly what the last allowed checkpoint covers: every line once,
    // each key's counts a gapless prefix (nothing of the refused checkpoint is committed).
    std::map<std::string, std::set<int64_t>> counts;  // key -> its committed running counts
    for (const auto& [line, times] : testing::CommittedLines(tmp.Sub("out"))) {
      EXPECT_EQ(times, 1) << line;
      const size_t a = line.find(','), b = line.find(',', a + 1);
      ASSERT_NE(b, std::string::npos) << line;
      counts[line.substr(0, a)].insert(std::stoll(line.substr(a + 1, b - a - 1)));
    }
    EXPECT_FALSE(counts.empty());
    for (const auto& [key, seen] : counts) {
      EXPECT_EQ(static_cast<int64_t>(seen.size()), *seen.rbegin()) << "key " << key << " has gaps";
    }
  }
}

// A sink whose commit of the final checkpoint fails once (a NATS sink that cannot publish what
// the final checkpoint holds).
std::atomic<int> final_commit_failures{0};
class FailingFinalCommit final : public StreamOperator {
 public:
  Status Open(OperatorContext&, const std::optional<std::string>&, Output&) override {
    return Status::OK();
  }
  Status ProcessRecord(Record) override { return Status::OK(); }
  Status Finish() override {
    finished_ = true;
    return Status::OK();
  }
  Status NotifyCheckpointComplete(uint64_t) override {
    if (finished_ && final_commit_failures.fetch_add(1) == 0) {
      return Status::IOError("cannot publish the final batch", /*retryable=*/true);
    }
    return Status::OK();
  }

 private:
  bool finished_ = false;
};

// The job is not finished until its final checkpoint is committed everywhere: a failure there
// fails the attempt, and the restart (from that final checkpoint) finishes it.
TEST(FinalCommitTest, AFailedCommitOfTheFinalCheckpointIsNoFinish) {
  testing::TempDir tmp;
  Configuration c;
  ASSERT_TRUE(c.Set(config::kInterval, "30ms").ok());
  ASSERT_TRUE(c.Set(config::kCheckpointsDir, tmp.Sub("checkpoints")).ok());
  ASSERT_TRUE(c.Set(config::kLocalDir, tmp.Sub("local")).ok());
  ASSERT_TRUE(c.Set(config::kRestartDelay, "10ms").ok());
  JobBuilder b("final-commit");
  b.AddSource(GeneratorSource<uint64_t>(
                  2000, [](uint64_t i) { return i; }, 20000))
      .Uid("numbers")
      .SinkTo(Sink<uint64_t>{[] { return std::make_unique<FailingFinalCommit>(); }})
      .Uid("sink");
  final_commit_failures = 0;
  auto job = JobRuntime::Create(b.Build(), c);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  const JobResult result = (*job)->Run();
  EXPECT_EQ(result.outcome, JobOutcome::kFinished) << result.status.ToString();
  EXPECT_EQ(result.restarts, 1);
  EXPECT_GE(final_commit_failures.load(), 2);
}

TEST(CompletionFenceTest, AJobWithoutCheckpointsHasNothingToFence) {
  testing::TempDir tmp;
  Configuration c;
  ASSERT_TRUE(c.Set(config::kLocalDir, tmp.Sub("local")).ok());
  auto job =
      JobRuntime::Create(testing::AggregateJob(10, 2, 0, tmp.Sub("out"), nullptr, nullptr), c);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ((*job)
                ->SetCompletionFence(
                    [](const CheckpointMetadata&, const std::string&) { return Status::OK(); })
                .code(),
            StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace weir
