// The runtime end to end in one process: exactly-once output with failures injected at random
// moments (the job restarts itself from the latest completed checkpoint), full and incremental
// checkpoints, parallelism 1 and 4; restart strategy none; tolerable checkpoint failures; timers.
#include "runtime/job_runtime.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "aggregate_job.h"
#include "bundled_jobs.h"
#include "common/failpoint.h"
#include "splitmix64.h"
#include "state/changelog/changelog_options.h"
#include "testing/output_oracle.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"
#include "weir/connectors.h"
#include "weir/job.h"

namespace weir {
namespace {

using testing::AggregateJob;
using testing::Event;
using testing::FailureInjector;

// Passes each record on as a string (keyed, no state).
class PassThrough final : public KeyedProcessFunction<uint64_t, uint64_t, std::string> {
 public:
  Status ProcessElement(const uint64_t& v, Context&, Collector<std::string>& out) override {
    out.Collect(std::to_string(v));
    return Status::OK();
  }
};

Configuration BaseConfig(const testing::TempDir& tmp, int parallelism, bool incremental) {
  Configuration c;
  EXPECT_TRUE(c.Set(config::kParallelism, std::to_string(parallelism)).ok());
  EXPECT_TRUE(c.Set(config::kIncremental, incremental ? "true" : "false").ok());
  EXPECT_TRUE(c.Set(config::kInterval, "40ms").ok());
  EXPECT_TRUE(c.Set(config::kCheckpointsDir, tmp.Sub("checkpoints")).ok());
  EXPECT_TRUE(c.Set(config::kLocalDir, tmp.Sub("local")).ok());
  EXPECT_TRUE(c.Set(config::kRestartDelay, "10ms").ok());
  EXPECT_TRUE(c.Set(config::kRestartAttempts, "20").ok());
  return c;
}

struct Scenario {
  int parallelism;
  bool incremental;
  const char* backend = "rocksdb";
  bool local_recovery = false;  // restarts restore from the local copies
};

class ExactlyOnceWithFailuresTest : public ::testing::TestWithParam<Scenario> {};

TEST_P(ExactlyOnceWithFailuresTest, RestartsFromTheLatestCheckpointAndCommitsEachRecordOnce) {
  const auto [parallelism, incremental, backend, local_recovery] = GetParam();
  testing::TempDir tmp;
  const uint64_t events = 20000, keys = 300;
  // Failures at random moments, in the source's chain and in the keyed task, all after the first
  // checkpoint completed (the test asserts restores from one, whatever the machine's speed): at
  // random records among the first 2000 seen once it did.
  std::mt19937_64 rng(parallelism * 7 + incremental);
  std::set<uint64_t> in_map, in_keyed;
  while (in_map.size() < 2) in_map.insert(1 + rng() % 2000);
  while (in_keyed.size() < 2) in_keyed.insert(1 + rng() % 2000);
  std::atomic<bool> checkpointed{false};
  FailureInjector map_failures(in_map, &checkpointed), keyed_failures(in_keyed, &checkpointed);
  const std::string out = tmp.Sub("out");
  Configuration config = BaseConfig(tmp, parallelism, incremental);
  ASSERT_TRUE(config.Set(config::kBackendType, backend).ok());
  ASSERT_TRUE(config.Set(config::kLocalRecovery, local_recovery ? "true" : "false").ok());
  auto job = JobRuntime::Create(
      AggregateJob(events, keys, /*rate=*/15000, out, &map_failures, &keyed_failures), config);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  std::atomic<bool> ended{false};
  std::thread arm([&] {
    while (!ended && !checkpointed) {
      const auto stats = (*job)->checkpoint_stats();
      if (stats && stats->completed > 0) checkpointed = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  const JobResult result = (*job)->Run();
  ended = true;
  arm.join();
  ASSERT_EQ(result.outcome, JobOutcome::kFinished) << result.status.ToString();
  // Each of the 4 injected failures fires once, each injector's two in different attempts; one
  // of each injector may strike in the same attempt (the source chain runs up to a channel's
  // capacity ahead of the keyed task), so 2 to 4 restarts.
  EXPECT_GE(result.restarts, 2);
  EXPECT_LE(result.restarts, 4);
  ASSERT_TRUE(result.latest_checkpoint.has_value());
  // Every failure came after the first checkpoint: every restart restored one; the statistics
  // say which and how long.
  const auto stats = (*job)->checkpoint_stats();
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->restored, static_cast<uint64_t>(result.restarts));
  ASSERT_TRUE(stats->latest_restore.has_value());
  EXPECT_GT(stats->latest_restore->checkpoint_id, 0u);
  EXPECT_GE(stats->latest_restore->duration_ms, 0);
  EXPECT_NE(stats->latest_restore->metadata_path.find("chk-"), std::string::npos);
  Status exact = testing::CheckRunningCounts(out, testing::KeyedAggregateTotals(events, keys));
  EXPECT_TRUE(exact.ok()) << exact.message();
  if (local_recovery) {
    // The copies were there for the restarts; the job ended, so they are gone.
    const std::string copies =
        tmp.Sub("local") + "/weir-local-recovery-" + std::to_string(::geteuid());
    ASSERT_TRUE(std::filesystem::is_directory(copies));
    EXPECT_TRUE(std::filesystem::is_empty(copies));
  }
}

INSTANTIATE_TEST_SUITE_P(Runtime, ExactlyOnceWithFailuresTest,
                         ::testing::Values(Scenario{1, false}, Scenario{1, true},
                                           Scenario{4, false}, Scenario{4, true},
                                           Scenario{2, false, "hashmap"},
                                           Scenario{2, true, "rocksdb", true}),
                         [](const auto& info) {
                           return "P" + std::to_string(info.param.parallelism) +
                                  (info.param.incremental ? "Incremental" : "Full") +
                                  (std::string(info.param.backend) == "hashmap" ? "Hashmap" : "") +
                                  (info.param.local_recovery ? "LocalRecovery" : "");
                         });

TEST(JobRuntimeTest, WithoutCheckpointsABoundedJobCommitsAtTheEnd) {
  testing::TempDir tmp;
  Configuration c;
  ASSERT_TRUE(c.Set(config::kParallelism, "3").ok());
  ASSERT_TRUE(c.Set(config::kLocalDir, tmp.Sub("local")).ok());
  auto job = JobRuntime::Create(AggregateJob(5000, 77, 0, tmp.Sub("out"), nullptr, nullptr), c);
  ASSERT_TRUE(job.ok());
  EXPECT_TRUE((*job)->job_dir().empty());
  const JobResult result = (*job)->Run();
  ASSERT_EQ(result.outcome, JobOutcome::kFinished);
  EXPECT_TRUE(
      testing::CheckRunningCounts(tmp.Sub("out"), testing::KeyedAggregateTotals(5000, 77)).ok());
}

TEST(JobRuntimeTest, AnInFlightLimitBelowThePersistThresholdIsRefused) {
  testing::TempDir tmp;
  Configuration c = BaseConfig(tmp, 2, false);
  ASSERT_TRUE(c.Set(config::kChangelogEnabled, "true").ok());
  ASSERT_TRUE(c.Set(config::kChangelogPersistSize, "10mb").ok());
  ASSERT_TRUE(c.Set(config::kChangelogMaxInFlight, "1mb").ok());
  auto job = JobRuntime::Create(AggregateJob(100, 10, 0, tmp.Sub("out"), nullptr, nullptr), c);
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(job.status().ToString().find("dstl.dfs.upload.max-in-flight"), std::string::npos)
      << job.status().ToString();
  EXPECT_NE(job.status().ToString().find("dstl.dfs.batch.persist-size-threshold"),
            std::string::npos)
      << job.status().ToString();
  // Equal is enough.
  ASSERT_TRUE(c.Set(config::kChangelogMaxInFlight, "10mb").ok());
  EXPECT_TRUE(
      JobRuntime::Create(AggregateJob(100, 10, 0, tmp.Sub("out"), nullptr, nullptr), c).ok());
}

TEST(JobRuntimeTest, AtLeastOnceModeRunsToTheSameResultWithoutFailures) {
  testing::TempDir tmp;
  Configuration c = BaseConfig(tmp, 2, false);
  ASSERT_TRUE(c.Set(config::kMode, "at-least-once").ok());
  auto job = JobRuntime::Create(AggregateJob(6000, 50, 20000, tmp.Sub("out"), nullptr, nullptr), c);
  ASSERT_TRUE(job.ok());
  ASSERT_EQ((*job)->Run().outcome, JobOutcome::kFinished);
  EXPECT_TRUE(
      testing::CheckRunningCounts(tmp.Sub("out"), testing::KeyedAggregateTotals(6000, 50)).ok());
}

TEST(JobRuntimeTest, RestartStrategyNoneFailsTheJobWithTheTaskError) {
  testing::TempDir tmp;
  Configuration c = BaseConfig(tmp, 1, false);
  ASSERT_TRUE(c.Set(config::kRestartStrategy, "none").ok());
  FailureInjector failures({100});
  auto job = JobRuntime::Create(AggregateJob(1000, 10, 0, tmp.Sub("out"), nullptr, &failures), c);
  ASSERT_TRUE(job.ok());
  const JobResult result = (*job)->Run();
  EXPECT_EQ(result.outcome, JobOutcome::kFailed);
  EXPECT_NE(result.status.message().find("injected failure at 100"), std::string::npos)
      << result.status.message();
  EXPECT_EQ(result.restarts, 0);
}

TEST(JobRuntimeTest, CheckpointFailuresPastTheToleranceFailTheJob) {
  testing::TempDir tmp;
  Configuration c = BaseConfig(tmp, 1, true);
  ASSERT_TRUE(c.Set(config::kRestartStrategy, "none").ok());
  ASSERT_TRUE(c.Set(config::kTolerableFailures, "2").ok());
  Failpoints::Instance().Set("checkpoint.before_metadata", FailpointAction::kError);
  auto job =
      JobRuntime::Create(AggregateJob(1000000, 10, 2000, tmp.Sub("out"), nullptr, nullptr), c);
  ASSERT_TRUE(job.ok());
  const JobResult result = (*job)->Run();
  Failpoints::Instance().ClearAll();
  EXPECT_EQ(result.outcome, JobOutcome::kFailed);
  EXPECT_NE(result.status.message().find("3 consecutive checkpoint failures exceed"),
            std::string::npos)
      << result.status.message();
  EXPECT_FALSE(result.latest_checkpoint.has_value());
}

// Checkpoints that take longer than the timeout expire, count as failures, and leave nothing
// behind: their late acknowledgements are refused and their uploads deleted.
TEST(JobRuntimeTest, ExpiredCheckpointsFailTheJobAndLeaveNoFiles) {
  testing::TempDir tmp;
  Configuration c = BaseConfig(tmp, 2, true);
  ASSERT_TRUE(c.Set(config::kTimeout, "30ms").ok());
  ASSERT_TRUE(c.Set(config::kRestartStrategy, "none").ok());
  ASSERT_TRUE(c.Set(config::kTolerableFailures, "1").ok());
  Failpoints::Instance().Set("incremental.after_uploads", FailpointAction::kSleep, 0, 200);
  std::string job_dir;
  {
    auto job =
        JobRuntime::Create(AggregateJob(1000000, 50, 5000, tmp.Sub("out"), nullptr, nullptr), c);
    ASSERT_TRUE(job.ok());
    job_dir = (*job)->job_dir();
    const JobResult result = (*job)->Run();
    EXPECT_EQ(result.outcome, JobOutcome::kFailed);
    EXPECT_NE(result.status.message().find("2 consecutive checkpoint failures"), std::string::npos)
        << result.status.message();
  }  // the job's cleaner has finished here
  Failpoints::Instance().ClearAll();
  size_t files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(job_dir)) {
    if (e.path().filename() == kJobMarkerFileName) continue;  // the job directory's own marker
    if (e.is_regular_file() || e.path().filename().string().rfind("chk-", 0) == 0) ++files;
  }
  EXPECT_EQ(files, 0u) << "an expired checkpoint left files in " << job_dir;
}

// A task whose snapshot fails declines the checkpoint; the job goes on, and later checkpoints
// complete once the failure stops.
TEST(JobRuntimeTest, DeclinedCheckpointsAreToleratedAndLaterOnesComplete) {
  testing::TempDir tmp;
  Configuration c = BaseConfig(tmp, 2, false);
  ASSERT_TRUE(c.Set(config::kTolerableFailures, "1000").ok());
  Failpoints::Instance().Set("task.snapshot", FailpointAction::kError, 3);
  auto job = JobRuntime::Create(AggregateJob(6000, 40, 15000, tmp.Sub("out"), nullptr, nullptr), c);
  ASSERT_TRUE(job.ok());
  const JobResult result = (*job)->Run();
  const int hits = Failpoints::Instance().Hits("task.snapshot");
  Failpoints::Instance().ClearAll();
  ASSERT_EQ(result.outcome, JobOutcome::kFinished) << result.status.ToString();
  EXPECT_GT(hits, 3);
  EXPECT_EQ(result.restarts, 0);
  const auto history = (*job)->completed_checkpoints();
  ASSERT_FALSE(history.empty());
  // One checkpoint was declined: its id is missing from the completed ones.
  std::set<uint64_t> ids;
  for (const auto& h : history) ids.insert(h.checkpoint_id);
  EXPECT_LT(ids.size(), *ids.rbegin());
  EXPECT_TRUE(
      testing::CheckRunningCounts(tmp.Sub("out"), testing::KeyedAggregateTotals(6000, 40)).ok());
}

// A sink that cannot keep up slows the source down: the generator makes only as many events as
// the bounded channels and batches between them hold.
TEST(JobRuntimeTest, ASlowSinkBackpressuresTheSource) {
  testing::TempDir tmp;
  std::atomic<uint64_t> generated{0};
  std::atomic<bool> release{false};
  class BlockingSink final : public StreamOperator {
   public:
    explicit BlockingSink(std::atomic<bool>* release) : release_(release) {}
    Status Open(OperatorContext&, const std::optional<std::string>&, Output&) override {
      return Status::OK();
    }
    Status ProcessRecord(Record) override {
      while (!release_->load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      return Status::OK();
    }

   private:
    std::atomic<bool>* release_;
  };
  JobBuilder b("backpressure");
  b.AddSource(GeneratorSource<uint64_t>(UINT64_MAX / 2,
                                        [&generated](uint64_t i) {
                                          generated.fetch_add(1);
                                          return i;
                                        }))
      .KeyBy([](const uint64_t& i) { return i % 7; })
      .Process<std::string>(MakeFactory<PassThrough>(), "pass")
      .SinkTo(Sink<std::string>{[&release] { return std::make_unique<BlockingSink>(&release); }});
  Configuration c;
  ASSERT_TRUE(c.Set(config::kChannelCapacity, "16").ok());
  ASSERT_TRUE(c.Set(config::kLocalDir, tmp.Sub("local")).ok());
  auto job = JobRuntime::Create(b.Build(), c);
  ASSERT_TRUE(job.ok());
  std::thread runner([&] { (*job)->Run(); });
  // The pipeline fills, then the source stops: wait until it has generated nothing for 200 ms
  // (on a loaded machine filling takes a while), then it must stay stopped.
  uint64_t settled = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  do {
    settled = generated.load();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  } while (generated.load() != settled && std::chrono::steady_clock::now() < deadline);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // Channel (16 + one batch of 64), the batch the keyed task took (256), the writer's batch (64)
  // and the source's poll (256): about 650 at most, however long the sink stalls.
  EXPECT_LE(generated.load(), 1000u);
  EXPECT_EQ(generated.load(), settled) << "the source kept generating";
  (*job)->Cancel();
  release = true;
  runner.join();
}

TEST(JobRuntimeTest, CancelStopsAnUnboundedJobAndKeepsItsCheckpoints) {
  testing::TempDir tmp;
  auto job =
      JobRuntime::Create(AggregateJob(UINT64_MAX / 2, 100, 5000, tmp.Sub("out"), nullptr, nullptr),
                         BaseConfig(tmp, 2, true));
  ASSERT_TRUE(job.ok());
  std::thread canceller([&] {
    testing::WaitFor([&] { return !(*job)->completed_checkpoints().empty(); });
    (*job)->Cancel();
  });
  const JobResult result = (*job)->Run();
  canceller.join();
  EXPECT_EQ(result.outcome, JobOutcome::kCancelled);
  ASSERT_TRUE(result.latest_checkpoint.has_value());
  EXPECT_TRUE(std::filesystem::exists(result.latest_checkpoint_path));
}

TEST(JobRuntimeTest, DeleteOnCancellationRemovesTheJobDirectory) {
  testing::TempDir tmp;
  Configuration c = BaseConfig(tmp, 1, false);
  ASSERT_TRUE(c.Set(config::kRetention, "DELETE_ON_CANCELLATION").ok());
  auto job = JobRuntime::Create(
      AggregateJob(UINT64_MAX / 2, 100, 5000, tmp.Sub("out"), nullptr, nullptr), c);
  ASSERT_TRUE(job.ok());
  const std::string dir = (*job)->job_dir();
  std::thread canceller([&] {
    // Cancel once there is something to delete.
    testing::WaitFor([&] { return !(*job)->completed_checkpoints().empty(); });
    (*job)->Cancel();
  });
  EXPECT_EQ((*job)->Run().outcome, JobOutcome::kCancelled);
  canceller.join();
  EXPECT_FALSE(std::filesystem::exists(dir));
}

// Emits "timer,<key>" when the processing-time timer set on a key's first event fires.
class TimerPerKey final : public KeyedProcessFunction<uint64_t, uint64_t, std::string> {
 public:
  Status Open(KeyedStateBackend& state, const RuntimeInfo&) override {
    WEIR_ASSIGN_OR_RETURN(seen_, state.GetValueState(ValueStateDescriptor<bool>{"seen"}));
    return Status::OK();
  }
  Status ProcessElement(const uint64_t&, Context& ctx, Collector<std::string>&) override {
    WEIR_ASSIGN_OR_RETURN(auto seen, seen_->Value());
    if (seen.has_value()) return Status::OK();
    WEIR_RETURN_IF_ERROR(seen_->Update(true));
    return ctx.timers().RegisterProcessingTimeTimer(ctx.timers().CurrentProcessingTime() + 10);
  }
  Status OnTimer(int64_t, Context& ctx, Collector<std::string>& out) override {
    out.Collect(std::to_string(ctx.CurrentKey()) + ",1");
    return Status::OK();
  }

 private:
  ValueState<bool>* seen_ = nullptr;
};

TEST(JobRuntimeTest, ProcessingTimeTimersFireForTheirKey) {
  testing::TempDir tmp;
  // 10 keys first, then 400 more events over about a second: every timer is due long before the
  // end.
  JobBuilder b("timers");
  b.AddSource(GeneratorSource<uint64_t>(
                  410, [](uint64_t i) { return i < 10 ? i : i % 10; }, 400))
      .KeyBy([](const uint64_t& k) { return k; })
      .Process<std::string>(MakeFactory<TimerPerKey>(), "timers")
      .SinkTo(FileSink(tmp.Sub("out")));
  auto job = JobRuntime::Create(b.Build(), BaseConfig(tmp, 2, false));
  ASSERT_TRUE(job.ok());
  ASSERT_EQ((*job)->Run().outcome, JobOutcome::kFinished);
  std::map<std::string, testing::KeyTotals> expected;
  for (int k = 0; k < 10; ++k) expected[std::to_string(k)].count = 1;
  Status s = testing::CheckRunningCounts(tmp.Sub("out"), expected);
  EXPECT_TRUE(s.ok()) << s.message();
}

// Timers still pending at end of input: Flink's behaviour (due timers fire, the rest are dropped)
// means nothing is emitted after the final checkpoint, so a clean end leaves no in-progress part
// and the committed output holds each fired timer once.
TEST(JobRuntimeTest, EndOfInputLeavesNoUncommittedOutputFromTimers) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    testing::TempDir tmp;
    // Ten keys' timers are set 10 ms after their first event; the input ends at once after them
    // (no rate): some or all of them are still pending at end of input.
    JobBuilder b("timers");
    b.AddSource(GeneratorSource<uint64_t>(
                    2000, [](uint64_t i) { return i % 10; }, 0))
        .KeyBy([](const uint64_t& k) { return k; })
        .Process<std::string>(MakeFactory<TimerPerKey>(), "timers")
        .SinkTo(FileSink(tmp.Sub("out")));
    auto job = JobRuntime::Create(b.Build(), BaseConfig(tmp, 2, attempt % 2 == 1));
    ASSERT_TRUE(job.ok());
    ASSERT_EQ((*job)->Run().outcome, JobOutcome::kFinished);
    std::map<std::string, int> fired;
    for (const auto& e : std::filesystem::directory_iterator(tmp.Sub("out"))) {
      const std::string name = e.path().filename().string();
      EXPECT_NE(name.front(), '.') << "in-progress part left after a clean end: " << name;
      std::ifstream in(e.path());
      for (std::string line; std::getline(in, line);) ++fired[line];
    }
    for (const auto& [line, times] : fired) EXPECT_EQ(times, 1) << line;
  }
}

TEST(JobRuntimeTest, WordCountCountsEveryWordOnce) {
  testing::TempDir tmp;
  std::vector<std::string> lines;
  {
    std::filesystem::create_directories(tmp.Sub("in"));
    for (int f = 0; f < 3; ++f) {
      std::ofstream file(tmp.Sub("in/part-" + std::to_string(f) + ".txt"));
      for (int i = 0; i < 400; ++i) {
        lines.push_back("The quick, brown fox " + std::to_string((i * 7 + f) % 13) + " jumps");
        file << lines.back() << "\n";
      }
    }
    std::ofstream hidden(tmp.Sub("in/.ignored"));
    hidden << "never counted\n";
  }
  auto graph = examples::BuildWordCount({"--input", tmp.Sub("in"), "--output", tmp.Sub("out")});
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  auto job = JobRuntime::Create(std::move(graph).value(), BaseConfig(tmp, 2, true));
  ASSERT_TRUE(job.ok());
  ASSERT_EQ((*job)->Run().outcome, JobOutcome::kFinished);
  Status s = testing::CheckRunningCounts(tmp.Sub("out"), testing::WordCountTotals(lines));
  EXPECT_TRUE(s.ok()) << s.message();
}

}  // namespace
}  // namespace weir
