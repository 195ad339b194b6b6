// Rescaling in the runtime: a job cancelled after a checkpoint and resumed from it at another
// parallelism, through a chain of changes, commits every record exactly once; keyed state moves
// by key-group range (full and incremental, both backends), the generator's splits and the file
// sink's pending parts are redistributed, and timers move with their keys.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "aggregate_job.h"
#include "checkpoint/checkpoint_verifier.h"
#include "io/file_system.h"
#include "runtime/job_runtime.h"
#include "testing/output_oracle.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"
#include "weir/connectors.h"
#include "weir/job.h"

namespace weir {
namespace {

Configuration RescaleConfig(const testing::TempDir& tmp, int parallelism, bool incremental,
                            const std::string& backend, const std::string& resume_from) {
  Configuration c;
  EXPECT_TRUE(c.Set(config::kParallelism, std::to_string(parallelism)).ok());
  EXPECT_TRUE(c.Set(config::kIncremental, incremental ? "true" : "false").ok());
  EXPECT_TRUE(c.Set(config::kBackendType, backend).ok());
  EXPECT_TRUE(c.Set(config::kInterval, "50ms").ok());
  EXPECT_TRUE(c.Set(config::kCheckpointsDir, tmp.Sub("checkpoints")).ok());
  EXPECT_TRUE(c.Set(config::kLocalDir, tmp.Sub("local")).ok());
  if (!resume_from.empty()) {
    EXPECT_TRUE(c.Set(config::kSavepointPath, resume_from).ok());
  }
  return c;
}

// Runs `job` until `checkpoints` more checkpoints completed, then cancels it; returns the latest
// checkpoint's _metadata. With checkpoints = 0 it runs to the end.
std::string RunUntilCheckpoints(JobRuntime& job, size_t checkpoints, JobOutcome* outcome) {
  std::thread canceller;
  std::atomic<bool> ended{false};
  if (checkpoints > 0) {
    canceller = std::thread([&] {
      testing::WaitFor([&] { return ended || job.completed_checkpoints().size() >= checkpoints; },
                       std::chrono::seconds(60));
      job.Cancel();
    });
  }
  const JobResult result = job.Run();
  ended = true;
  if (canceller.joinable()) canceller.join();
  *outcome = result.outcome;
  EXPECT_NE(result.outcome, JobOutcome::kFailed) << result.status.ToString();
  return result.latest_checkpoint_path;
}

struct Chain {
  bool incremental;
  const char* backend;
};

class RescaleTest : public ::testing::TestWithParam<Chain> {};

// 2 -> 3 -> 1 -> 4: every run but the last is cancelled after a few checkpoints (its output
// after the latest one is taken back by the restore), the last runs to the end. The rate leaves
// a run 4 s of input: room for three checkpoints after a restore even under the sanitizers (the
// first after a no-claim restore is full).
TEST_P(RescaleTest, ChainOfParallelismChangesCommitsEachRecordOnce) {
  const auto [incremental, backend] = GetParam();
  testing::TempDir tmp;
  const uint64_t events = 12000, keys = 200;
  const std::string out = tmp.Sub("out");
  std::string resume_from;
  const std::vector<int> chain = {2, 3, 1, 4};
  for (size_t run = 0; run < chain.size(); ++run) {
    const bool last = run + 1 == chain.size();
    auto job = JobRuntime::Create(
        testing::AggregateJob(events, keys, /*rate=*/last ? 0 : 3000, out, nullptr, nullptr),
        RescaleConfig(tmp, chain[run], incremental, backend, resume_from));
    ASSERT_TRUE(job.ok()) << "run " << run << ": " << job.status().ToString();
    JobOutcome outcome;
    resume_from = RunUntilCheckpoints(**job, last ? 0 : 3, &outcome);
    ASSERT_EQ(outcome, last ? JobOutcome::kFinished : JobOutcome::kCancelled) << "run " << run;
    ASSERT_FALSE(resume_from.empty()) << "run " << run;
  }
  Status exact = testing::CheckRunningCounts(out, testing::KeyedAggregateTotals(events, keys));
  EXPECT_TRUE(exact.ok()) << exact.message();
  for (const auto& e : std::filesystem::directory_iterator(out)) {
    EXPECT_NE(e.path().filename().string().front(), '.')
        << "in-progress part left after a clean end: " << e.path();
  }
}

INSTANTIATE_TEST_SUITE_P(Runtime, RescaleTest,
                         ::testing::Values(Chain{false, "rocksdb"}, Chain{true, "rocksdb"},
                                           Chain{false, "hashmap"}),
                         [](const auto& info) {
                           return std::string(info.param.incremental ? "Incremental" : "Full") +
                                  (std::string(info.param.backend) == "hashmap" ? "Hashmap"
                                                                                : "Rocksdb");
                         });

// No-claim: the job rescaled from another job's checkpoint builds its own chain (first
// checkpoint full), subsumes its own checkpoints, and never touches the restored one: that job
// directory still verifies, with every file, after the new job ran to its end.
TEST(RescaleNoClaimTest, TheRestoredCheckpointStaysIntact) {
  testing::TempDir tmp;
  const uint64_t events = 8000, keys = 100;
  const std::string out = tmp.Sub("out");
  auto first = JobRuntime::Create(testing::AggregateJob(events, keys, 6000, out, nullptr, nullptr),
                                  RescaleConfig(tmp, 3, true, "rocksdb", ""));
  ASSERT_TRUE(first.ok());
  JobOutcome outcome;
  const std::string from = RunUntilCheckpoints(**first, 3, &outcome);
  ASSERT_EQ(outcome, JobOutcome::kCancelled);
  const std::string old_dir = (*first)->job_dir();
  auto storage = CheckpointStorage(NewPosixFileSystem(), old_dir);
  auto before = VerifyJobDirectory(storage);
  ASSERT_TRUE(before.ok() && before->healthy());
  Configuration c = RescaleConfig(tmp, 2, true, "rocksdb", from);
  ASSERT_TRUE(c.Set(config::kRestoreMode, "NO_CLAIM").ok());
  auto second =
      JobRuntime::Create(testing::AggregateJob(events, keys, 0, out, nullptr, nullptr), c);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ASSERT_EQ((*second)->Run().outcome, JobOutcome::kFinished);
  EXPECT_NE((*second)->job_dir(), old_dir);
  auto after = VerifyJobDirectory(storage);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->healthy());
  EXPECT_EQ(after->checkpoints, before->checkpoints);
  Status exact = testing::CheckRunningCounts(out, testing::KeyedAggregateTotals(events, keys));
  EXPECT_TRUE(exact.ok()) << exact.message();
}

// A job that no longer has an operator with state in the checkpoint: refused before any task
// starts, naming the operator; with --allow-non-restored-state it resumes without that state, and
// the operator that took its place starts empty.
TEST(RescaleChangedJobTest, StateOfARemovedOperatorNeedsAllowNonRestoredState) {
  testing::TempDir tmp;
  const std::string out = tmp.Sub("out");
  auto first = JobRuntime::Create(testing::AggregateJob(50000, 50, 5000, out, nullptr, nullptr),
                                  RescaleConfig(tmp, 2, false, "rocksdb", ""));
  ASSERT_TRUE(first.ok());
  JobOutcome outcome;
  const std::string from = RunUntilCheckpoints(**first, 2, &outcome);
  ASSERT_EQ(outcome, JobOutcome::kCancelled);
  // The same job with the aggregation and the sink under other uids (new operators).
  const auto changed = [&] {
    JobBuilder job("test-aggregate");
    job.AddSource(
           GeneratorSource<testing::Event>(50000,
                                           [](uint64_t i) {
                                             return testing::Event{examples::KeyOfEvent(i, 50), i};
                                           }),
           "events")
        .Uid("events")
        .KeyBy([](const testing::Event& e) { return e.key; })
        .Process<std::string>([] { return std::make_unique<testing::CountAndSum>(nullptr); },
                              "aggregate-v2")
        .Uid("aggregate-v2")
        .SinkTo(FileSink(tmp.Sub("out2")), "sink-v2")
        .Uid("sink-v2");
    return job.Build();
  };
  auto refused = JobRuntime::Create(changed(), RescaleConfig(tmp, 3, false, "rocksdb", from));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("'aggregate'"), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("'sink'"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(refused.status().message().find("'check'"), std::string::npos)
      << "the map had no state: " << refused.status().message();
  Configuration allowed = RescaleConfig(tmp, 3, false, "rocksdb", from);
  ASSERT_TRUE(allowed.Set(config::kAllowNonRestoredState, "true").ok());
  auto resumed = JobRuntime::Create(changed(), allowed);
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  ASSERT_EQ((*resumed)->Run().outcome, JobOutcome::kFinished);
  // The new aggregation started empty: its counts begin at 1 for the events after the
  // checkpoint, whose position the source kept.
  std::map<std::string, int64_t> first_count;
  for (const auto& e : std::filesystem::directory_iterator(tmp.Sub("out2"))) {
    std::ifstream in(e.path());
    for (std::string line; std::getline(in, line);) {
      const std::string key = line.substr(0, line.find(','));
      const int64_t count = std::stoll(line.substr(line.find(',') + 1));
      auto [it, inserted] = first_count.emplace(key, count);
      if (!inserted) it->second = std::min(it->second, count);
    }
  }
  ASSERT_EQ(first_count.size(), 50u);
  for (const auto& [key, count] : first_count) EXPECT_EQ(count, 1) << key;
}

// The generator's finished splits keep their positions: a bounded job resumed (at another
// parallelism) with a larger count emits exactly the events after the old count.
TEST(RescaleGeneratorTest, AResumedGeneratorWithALargerCountGoesOnWhereItEnded) {
  testing::TempDir tmp;
  const std::string out = tmp.Sub("out");
  const auto build = [&](uint64_t count) {
    JobBuilder b("numbers");
    b.AddSource(GeneratorSource<uint64_t>(count, [](uint64_t i) { return i; }), "numbers")
        .Uid("numbers")
        .Map([](const uint64_t& i) { return std::to_string(i); }, "text")
        .Uid("text")
        .SinkTo(FileSink(out), "sink")
        .Uid("sink");
    return b.Build();
  };
  auto first = JobRuntime::Create(build(1000), RescaleConfig(tmp, 3, false, "rocksdb", ""));
  ASSERT_TRUE(first.ok());
  const JobResult r1 = (*first)->Run();
  ASSERT_EQ(r1.outcome, JobOutcome::kFinished);
  auto second = JobRuntime::Create(
      build(3000), RescaleConfig(tmp, 2, false, "rocksdb", r1.latest_checkpoint_path));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ASSERT_EQ((*second)->Run().outcome, JobOutcome::kFinished);
  std::map<uint64_t, int> seen;
  for (const auto& e : std::filesystem::directory_iterator(out)) {
    std::ifstream in(e.path());
    for (std::string line; std::getline(in, line);) ++seen[std::stoull(line)];
  }
  ASSERT_EQ(seen.size(), 3000u);
  for (const auto& [i, times] : seen) EXPECT_EQ(times, 1) << i;
}

// Runs `job`, and once `keys_seen` has passed (every key has had its first event) and two more
// checkpoints completed (they hold every key's timer), cancels it.
JobResult RunAndCancelAfterKeysSeen(JobRuntime& job, std::chrono::milliseconds keys_seen) {
  std::thread canceller([&] {
    std::this_thread::sleep_for(keys_seen);
    const size_t before = job.completed_checkpoints().size();
    testing::WaitFor([&] { return job.completed_checkpoints().size() > before + 1; });
    job.Cancel();
  });
  const JobResult result = job.Run();
  canceller.join();
  return result;
}

// Emits "<key>,1" when the timer set on a key's first event fires, `delay_ms` later.
class TimerPerKey final : public KeyedProcessFunction<uint64_t, uint64_t, std::string> {
 public:
  explicit TimerPerKey(int64_t delay_ms) : delay_ms_(delay_ms) {}
  Status Open(KeyedStateBackend& state, const RuntimeInfo&) override {
    WEIR_ASSIGN_OR_RETURN(seen_, state.GetValueState(ValueStateDescriptor<bool>{"seen"}));
    return Status::OK();
  }
  Status ProcessElement(const uint64_t&, Context& ctx, Collector<std::string>&) override {
    WEIR_ASSIGN_OR_RETURN(auto seen, seen_->Value());
    if (seen.has_value()) return Status::OK();
    WEIR_RETURN_IF_ERROR(seen_->Update(true));
    return ctx.timers().RegisterProcessingTimeTimer(ctx.timers().CurrentProcessingTime() +
                                                    delay_ms_);
  }
  Status OnTimer(int64_t, Context& ctx, Collector<std::string>& out) override {
    out.Collect(std::to_string(ctx.CurrentKey()) + ",1");
    return Status::OK();
  }

 private:
  int64_t delay_ms_;
  ValueState<bool>* seen_ = nullptr;
};

// Timers registered before a checkpoint fire once after a restore at another parallelism, on the
// subtask that now owns their key.
TEST(RescaleTimersTest, TimersMoveWithTheirKeys) {
  testing::TempDir tmp;
  const std::string out = tmp.Sub("out");
  // 40 keys in the first 40 events; the input goes on slowly so that the job is still running
  // when the timers are due (timers not due at the end of input never fire).
  const auto build = [&] {
    JobBuilder b("timers");
    b.AddSource(GeneratorSource<uint64_t>(
                    500, [](uint64_t i) { return i % 40; }, 125),
                "events")
        .Uid("events")
        .KeyBy([](const uint64_t& k) { return k; })
        .Process<std::string>([] { return std::make_unique<TimerPerKey>(2500); }, "timers")
        .Uid("timers")
        .SinkTo(FileSink(out), "sink")
        .Uid("sink");
    return b.Build();
  };
  // First run at parallelism 3: cancelled after a checkpoint that holds all 40 timers, long
  // before they are due.
  auto first = JobRuntime::Create(build(), RescaleConfig(tmp, 3, true, "rocksdb", ""));
  ASSERT_TRUE(first.ok());
  const JobResult r1 = RunAndCancelAfterKeysSeen(**first, std::chrono::milliseconds(600));
  ASSERT_EQ(r1.outcome, JobOutcome::kCancelled);
  ASSERT_FALSE(r1.latest_checkpoint_path.empty());
  // Nothing fired yet.
  for (const auto& e : std::filesystem::directory_iterator(out)) {
    EXPECT_EQ(e.path().filename().string().front(), '.') << e.path();
  }
  auto second = JobRuntime::Create(
      build(), RescaleConfig(tmp, 2, true, "rocksdb", r1.latest_checkpoint_path));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ASSERT_EQ((*second)->Run().outcome, JobOutcome::kFinished);
  std::map<std::string, testing::KeyTotals> expected;
  for (int k = 0; k < 40; ++k) expected[std::to_string(k)].count = 1;
  Status s = testing::CheckRunningCounts(out, expected);
  EXPECT_TRUE(s.ok()) << s.message();
}

// Emits "<key>,<timer time>" when the event-time timer set on a key's first event fires, far
// ahead of any event: only the end of input's maximum watermark reaches it.
class EventTimerPerKey final : public KeyedProcessFunction<uint64_t, uint64_t, std::string> {
 public:
  Status Open(KeyedStateBackend& state, const RuntimeInfo&) override {
    WEIR_ASSIGN_OR_RETURN(seen_, state.GetValueState(ValueStateDescriptor<bool>{"seen"}));
    return Status::OK();
  }
  Status ProcessElement(const uint64_t& key, Context& ctx, Collector<std::string>&) override {
    WEIR_ASSIGN_OR_RETURN(auto seen, seen_->Value());
    if (seen.has_value()) return Status::OK();
    WEIR_RETURN_IF_ERROR(seen_->Update(true));
    return ctx.timers().RegisterEventTimeTimer(1'000'000'000 + static_cast<int64_t>(key));
  }
  Status OnTimer(int64_t t, Context& ctx, Collector<std::string>& out) override {
    if (ctx.time_domain() != TimeDomain::kEventTime) return Status::Internal("not event time");
    out.Collect(std::to_string(ctx.CurrentKey()) + "," + std::to_string(t));
    return Status::OK();
  }

 private:
  ValueState<bool>* seen_ = nullptr;
};

// Event-time timers registered before a checkpoint are in its keyed state: restored at another
// parallelism they fire once each, on the subtask that now owns their key, at the end of input.
TEST(RescaleTimersTest, EventTimeTimersMoveWithTheirKeys) {
  testing::TempDir tmp;
  const std::string out = tmp.Sub("out");
  const auto build = [&] {
    JobBuilder b("event-timers");
    b.AddSource(GeneratorSource<uint64_t>(
                    600, [](uint64_t i) { return i; }, 150),
                "events")
        .Uid("events")
        .AssignTimestampsAndWatermarks(
            WatermarkStrategy<uint64_t>::ForMonotonousTimestamps().WithTimestampAssigner(
                [](const uint64_t& i) { return static_cast<int64_t>(i) * 10; }))
        .Uid("timestamps")
        .KeyBy([](const uint64_t& i) { return i % 40; })
        .Process<std::string>(MakeFactory<EventTimerPerKey>(), "timers")
        .Uid("timers")
        .SinkTo(FileSink(out), "sink")
        .Uid("sink");
    return b.Build();
  };
  auto first = JobRuntime::Create(build(), RescaleConfig(tmp, 3, true, "rocksdb", ""));
  ASSERT_TRUE(first.ok());
  const JobResult r1 = RunAndCancelAfterKeysSeen(**first, std::chrono::milliseconds(500));
  ASSERT_EQ(r1.outcome, JobOutcome::kCancelled);
  ASSERT_FALSE(r1.latest_checkpoint_path.empty());
  EXPECT_TRUE(testing::CommittedLines(out).empty());  // nothing fired before the end of input
  auto second = JobRuntime::Create(
      build(), RescaleConfig(tmp, 2, true, "rocksdb", r1.latest_checkpoint_path));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ASSERT_EQ((*second)->Run().outcome, JobOutcome::kFinished);
  std::map<std::string, int> expected;
  for (int k = 0; k < 40; ++k) {
    expected[std::to_string(k) + "," + std::to_string(1'000'000'000 + k)] = 1;
  }
  EXPECT_EQ(testing::CommittedLines(out), expected);
}

}  // namespace
}  // namespace weir
