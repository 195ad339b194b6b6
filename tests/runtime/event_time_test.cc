// Event time end to end in one process: timestamps and watermarks, event-time windows (tumbling,
// sliding, session; reduce, aggregate, process), allowed lateness and the late-data side output,
// event-time timers of a process function, and the end of input firing every window once.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "runtime/job_runtime.h"
#include "testing/output_oracle.h"
#include "testing/temp_dir.h"
#include "weir/connectors.h"
#include "weir/job.h"
#include "weir/window.h"

namespace weir {
namespace {

struct Ev {
  int64_t time = 0;
  int64_t key = 0;
};

Configuration Config(const testing::TempDir& tmp, int parallelism) {
  Configuration c;
  EXPECT_TRUE(c.Set(config::kParallelism, std::to_string(parallelism)).ok());
  EXPECT_TRUE(c.Set(config::kInterval, "30ms").ok());
  EXPECT_TRUE(c.Set(config::kCheckpointsDir, tmp.Sub("checkpoints")).ok());
  EXPECT_TRUE(c.Set(config::kLocalDir, tmp.Sub("local")).ok());
  return c;
}

void RunJob(JobBuilder& b, const testing::TempDir& tmp, int parallelism) {
  auto job = JobRuntime::Create(b.Build(), Config(tmp, parallelism));
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  const auto result = (*job)->Run();
  ASSERT_EQ(result.outcome, JobOutcome::kFinished) << result.status.ToString();
}

std::string WindowLine(int64_t key, const TimeWindow& w, int64_t n) {
  return std::to_string(w.start) + "," + std::to_string(w.end) + "," + std::to_string(key) + "," +
         std::to_string(n);
}

// Event i: time i*10 minus up to 30 ms of disorder, key i mod 5.
Ev MakeEvent(uint64_t i) {
  return {static_cast<int64_t>(i) * 10 - static_cast<int64_t>(i % 4) * 10,
          static_cast<int64_t>(i % 5)};
}

AggregateFunction<Ev, int64_t, int64_t> Count() {
  return {[] { return int64_t{0}; }, [](int64_t n, const Ev&) { return n + 1; },
          [](const int64_t& n) { return n; }};
}

TEST(WindowAssignerTest, AssignsFlinksWindows) {
  using ms = std::chrono::milliseconds;
  auto tumbling = WindowAssigner::TumblingEventTime(ms(10)).Assign(25);
  ASSERT_EQ(tumbling.size(), 1u);
  EXPECT_EQ(tumbling[0], (TimeWindow{20, 30}));
  EXPECT_EQ(WindowAssigner::TumblingEventTime(ms(10)).Assign(-5)[0], (TimeWindow{-10, 0}));
  EXPECT_EQ(WindowAssigner::TumblingEventTime(ms(10), ms(3)).Assign(25)[0], (TimeWindow{23, 33}));
  auto sliding = WindowAssigner::SlidingEventTime(ms(30), ms(10)).Assign(25);
  ASSERT_EQ(sliding.size(), 3u);
  EXPECT_EQ(sliding[0], (TimeWindow{20, 50}));
  EXPECT_EQ(sliding[2], (TimeWindow{0, 30}));
  EXPECT_EQ(WindowAssigner::EventTimeSession(ms(7)).Assign(25)[0], (TimeWindow{25, 32}));
  EXPECT_FALSE(WindowAssigner::SlidingEventTime(ms(10), ms(20)).Validate().ok());
  EXPECT_FALSE(WindowAssigner::TumblingEventTime(ms(0)).Validate().ok());
  const TimeWindow w{-7, 12};
  EXPECT_EQ(TimeWindow::Decode(w.Encode()), w);
  EXPECT_LT((TimeWindow{-7, 12}.Encode()), (TimeWindow{3, 4}.Encode()));
}

class WindowJobTest : public ::testing::TestWithParam<int> {};

TEST_P(WindowJobTest, TumblingAndSlidingWindowsCountEveryRecordOnce) {
  const int parallelism = GetParam();
  const uint64_t n = 20000;
  for (bool sliding : {false, true}) {
    testing::TempDir tmp;
    const auto assigner = sliding
                              ? WindowAssigner::SlidingEventTime(std::chrono::milliseconds(1000),
                                                                 std::chrono::milliseconds(500))
                              : WindowAssigner::TumblingEventTime(std::chrono::milliseconds(1000));
    JobBuilder b("windows");
    b.AddSource(GeneratorSource<Ev>(n, &MakeEvent, 50000))
        .AssignTimestampsAndWatermarks(
            WatermarkStrategy<Ev>::ForBoundedOutOfOrderness(std::chrono::milliseconds(30))
                .WithTimestampAssigner([](const Ev& e) { return e.time; }))
        .KeyBy([](const Ev& e) { return e.key; })
        .Window(assigner)
        .Aggregate<std::string>(Count(), &WindowLine)
        .SinkTo(FileSink(tmp.Sub("out")));
    RunJob(b, tmp, parallelism);
    std::map<std::string, int> expected;
    std::map<std::pair<int64_t, int64_t>, std::map<int64_t, int64_t>> counts;
    for (uint64_t i = 0; i < n; ++i) {
      const Ev e = MakeEvent(i);
      for (const TimeWindow& w : assigner.Assign(e.time)) ++counts[{w.start, w.end}][e.key];
    }
    for (const auto& [w, keys] : counts) {
      for (const auto& [k, c] : keys) ++expected[WindowLine(k, {w.first, w.second}, c)];
    }
    EXPECT_EQ(testing::CommittedLines(tmp.Sub("out")), expected)
        << (sliding ? "sliding" : "tumbling");
  }
}

INSTANTIATE_TEST_SUITE_P(Runtime, WindowJobTest, ::testing::Values(1, 3));

// A source of fixed events, in order, on subtask 0 (other subtasks end at once).
std::function<Ev(uint64_t)> Fixed(std::vector<Ev> events) {
  return [events = std::move(events)](uint64_t i) { return events[i]; };
}

TEST(WindowOperatorTest, LateRecordsGoToTheSideOutputAndLatenessFiresAgain) {
  testing::TempDir tmp;
  // Bound 0: the watermark follows the largest time. Key 1: window [0,100) fires when 150
  // arrives; 50 is late by 100 ms, within the 120 ms lateness: the window fires again (count 2).
  // 30 comes after 260 (watermark 259 ≥ 99 + 120): past the lateness, to the side output.
  std::vector<Ev> events = {{10, 1}, {150, 1}, {50, 1}, {260, 1}, {30, 1}, {400, 1}};
  const OutputTag<Ev> late{"late"};
  JobBuilder b("late");
  auto windows = b.AddSource(GeneratorSource<Ev>(events.size(), Fixed(events), 0))
                     .SetParallelism(1)
                     .AssignTimestampsAndWatermarks(
                         WatermarkStrategy<Ev>::ForMonotonousTimestamps().WithTimestampAssigner(
                             [](const Ev& e) { return e.time; }))
                     .SetParallelism(1)
                     .KeyBy([](const Ev& e) { return e.key; })
                     .Window(WindowAssigner::TumblingEventTime(std::chrono::milliseconds(100)))
                     .AllowedLateness(std::chrono::milliseconds(120))
                     .SideOutputLateData(late)
                     .Aggregate<std::string>(Count(), &WindowLine);
  windows.SinkTo(FileSink(tmp.Sub("out")));
  windows.SideOutput(late)
      .Map([](const Ev& e) { return std::to_string(e.time); })
      .SinkTo(FileSink(tmp.Sub("late")));
  RunJob(b, tmp, 2);
  EXPECT_EQ(testing::CommittedLines(tmp.Sub("out")),
            (std::map<std::string, int>{{"0,100,1,1", 1},
                                        {"0,100,1,2", 1},
                                        {"100,200,1,1", 1},
                                        {"200,300,1,1", 1},
                                        {"400,500,1,1", 1}}));
  EXPECT_EQ(testing::CommittedLines(tmp.Sub("late")), (std::map<std::string, int>{{"30", 1}}));
}

// Sliding windows with lateness: a late record fires each of its windows again (one of them
// for the first time), and a record whose windows are all cleaned up goes to the side output.
TEST(WindowOperatorTest, SlidingWindowsWithLatenessFireAgainAndCleanUp) {
  testing::TempDir tmp;
  std::vector<Ev> events = {{10, 1}, {150, 1}, {50, 1}, {260, 1}, {30, 1}, {400, 1}};
  const OutputTag<Ev> late{"late"};
  JobBuilder b("sliding-late");
  auto windows = b.AddSource(GeneratorSource<Ev>(events.size(), Fixed(events), 0))
                     .SetParallelism(1)
                     .AssignTimestampsAndWatermarks(
                         WatermarkStrategy<Ev>::ForMonotonousTimestamps().WithTimestampAssigner(
                             [](const Ev& e) { return e.time; }))
                     .SetParallelism(1)
                     .KeyBy([](const Ev& e) { return e.key; })
                     .Window(WindowAssigner::SlidingEventTime(std::chrono::milliseconds(100),
                                                              std::chrono::milliseconds(50)))
                     .AllowedLateness(std::chrono::milliseconds(120))
                     .SideOutputLateData(late)
                     .Aggregate<std::string>(Count(), &WindowLine);
  windows.SinkTo(FileSink(tmp.Sub("out")));
  windows.SideOutput(late)
      .Map([](const Ev& e) { return std::to_string(e.time); })
      .SinkTo(FileSink(tmp.Sub("late")));
  RunJob(b, tmp, 2);
  // 150 fires [-50,50) and [0,100); 50 (watermark 149) fires [0,100) again and [50,150) at
  // once; 260 fires [100,200), [150,250) and cleans up [-50,50) and [0,100), so 30 is late.
  EXPECT_EQ(testing::CommittedLines(tmp.Sub("out")),
            (std::map<std::string, int>{{"-50,50,1,1", 1},
                                        {"0,100,1,1", 1},
                                        {"0,100,1,2", 1},
                                        {"50,150,1,1", 1},
                                        {"100,200,1,1", 1},
                                        {"150,250,1,1", 1},
                                        {"200,300,1,1", 1},
                                        {"250,350,1,1", 1},
                                        {"350,450,1,1", 1},
                                        {"400,500,1,1", 1}}));
  EXPECT_EQ(testing::CommittedLines(tmp.Sub("late")), (std::map<std::string, int>{{"30", 1}}));
}

// Processing-time windows fire when the clock passes their end: every (window, key) once, each
// window aligned to its size, no record counted twice. (Windows not yet due at the end of the
// input are dropped, so the counts may sum to less than the records.)
TEST(WindowOperatorTest, ProcessingTimeWindowsFireOnTheClock) {
  testing::TempDir tmp;
  constexpr uint64_t kRecords = 3000;
  JobBuilder b("processing-time");
  b.AddSource(GeneratorSource<Ev>(
                  kRecords,
                  [](uint64_t i) {
                    return Ev{0, static_cast<int64_t>(i % 3)};
                  },
                  10000))
      .KeyBy([](const Ev& e) { return e.key; })
      .Window(WindowAssigner::TumblingProcessingTime(std::chrono::milliseconds(20)))
      .Aggregate<std::string>(Count(), &WindowLine)
      .SinkTo(FileSink(tmp.Sub("out")));
  RunJob(b, tmp, 2);
  const std::map<std::string, int> lines = testing::CommittedLines(tmp.Sub("out"));
  std::set<std::pair<int64_t, int64_t>> seen;  // (window start, key)
  int64_t total = 0;
  for (const auto& [line, times] : lines) {
    EXPECT_EQ(times, 1) << line;
    int64_t start = 0, end = 0, key = 0, n = 0;
    ASSERT_EQ(std::sscanf(line.c_str(), "%ld,%ld,%ld,%ld", &start, &end, &key, &n), 4) << line;
    EXPECT_EQ(start % 20, 0) << line;
    EXPECT_EQ(end - start, 20) << line;
    EXPECT_TRUE(seen.insert({start, key}).second) << "fired twice: " << line;
    total += n;
  }
  EXPECT_GT(lines.size(), 10u);  // 300 ms of input: windows fired along the way
  EXPECT_LE(total, static_cast<int64_t>(kRecords));
}

TEST(WindowOperatorTest, SessionWindowsMergeAndProcessSeesEveryRecord) {
  testing::TempDir tmp;
  // Gap 50: key 1 has sessions {0, 40, 20 (bridges nothing new), 80} = [0,130) and {300} =
  // [300,350); key 2 {10, 200}: two sessions. 80 merges the first session with itself.
  std::vector<Ev> events = {{0, 1}, {10, 2}, {40, 1}, {20, 1}, {80, 1}, {200, 2}, {300, 1}};
  JobBuilder b("sessions");
  b.AddSource(GeneratorSource<Ev>(events.size(), Fixed(events), 0))
      .SetParallelism(1)
      .AssignTimestampsAndWatermarks(
          WatermarkStrategy<Ev>::ForBoundedOutOfOrderness(std::chrono::milliseconds(100))
              .WithTimestampAssigner([](const Ev& e) { return e.time; }))
      .SetParallelism(1)
      .KeyBy([](const Ev& e) { return e.key; })
      .Window(WindowAssigner::EventTimeSession(std::chrono::milliseconds(50)))
      .Process<std::string>(
          [](const int64_t& key, const TimeWindow& w, const std::vector<Ev>& records,
             Collector<std::string>& out) {
            int64_t sum = 0;
            for (const Ev& e : records) sum += e.time;
            out.Collect(WindowLine(key, w, static_cast<int64_t>(records.size())) + "," +
                        std::to_string(sum));
            return Status::OK();
          },
          "sessions",
          MakeSerializer<Ev>(
              "ev",
              [](const Ev& e, std::string* out) {
                out->append(std::to_string(e.time) + ":" + std::to_string(e.key));
              },
              [](std::string_view in, Ev* e) {
                const size_t colon = in.find(':');
                if (colon == std::string_view::npos) return false;
                e->time = std::stoll(std::string(in.substr(0, colon)));
                e->key = std::stoll(std::string(in.substr(colon + 1)));
                return true;
              }))
      .SinkTo(FileSink(tmp.Sub("out")));
  RunJob(b, tmp, 2);
  EXPECT_EQ(testing::CommittedLines(tmp.Sub("out")),
            (std::map<std::string, int>{{"0,130,1,4,140", 1},
                                        {"300,350,1,1,300", 1},
                                        {"10,60,2,1,10", 1},
                                        {"200,250,2,1,200", 1}}));
}

// Emits "<key>,<timer time>,<watermark when it fired>" for an event-time timer 100 ms after each
// key's first record.
class EventTimer final : public KeyedProcessFunction<int64_t, Ev, std::string> {
 public:
  Status Open(KeyedStateBackend& state, const RuntimeInfo&) override {
    WEIR_ASSIGN_OR_RETURN(seen_, state.GetValueState(ValueStateDescriptor<bool>{"seen"}));
    return Status::OK();
  }
  Status ProcessElement(const Ev&, Context& ctx, Collector<std::string>&) override {
    WEIR_ASSIGN_OR_RETURN(auto seen, seen_->Value());
    if (seen) return Status::OK();
    WEIR_RETURN_IF_ERROR(seen_->Update(true));
    return ctx.timers().RegisterEventTimeTimer(ctx.timestamp() + 100);
  }
  Status OnTimer(int64_t t, Context& ctx, Collector<std::string>& out) override {
    if (ctx.time_domain() != TimeDomain::kEventTime) return Status::Internal("wrong domain");
    if (ctx.timestamp() != t) return Status::Internal("a timer's timestamp is its time");
    const int64_t w = ctx.timers().CurrentWatermark();
    out.Collect(std::to_string(ctx.CurrentKey()) + "," + std::to_string(t) + "," +
                (w == kMaxWatermark ? "max" : std::to_string(w)));
    return Status::OK();
  }

 private:
  ValueState<bool>* seen_ = nullptr;
};

TEST(EventTimeTest, TimersFireWhenTheWatermarkPassesThemAndAtTheEndOfInput) {
  testing::TempDir tmp;
  std::vector<Ev> events = {{0, 1}, {50, 2}, {120, 3}, {160, 3}, {500, 4}, {650, 4}, {1000, 5}};
  JobBuilder b("timers");
  // Paced (50 events/s), so that each watermark leaves the source before the next record: a
  // watermark directly followed by another in a channel's batch is replaced by it.
  b.AddSource(GeneratorSource<Ev>(events.size(), Fixed(events), 50))
      .SetParallelism(1)
      .AssignTimestampsAndWatermarks(
          WatermarkStrategy<Ev>::ForMonotonousTimestamps().WithTimestampAssigner(
              [](const Ev& e) { return e.time; }))
      .SetParallelism(1)
      .KeyBy([](const Ev& e) { return e.key; })
      .Process<std::string>(MakeFactory<EventTimer>())
      .SinkTo(FileSink(tmp.Sub("out")));
  RunJob(b, tmp, 2);
  // Key 1's timer (100) fires at watermark 119 (after 120), key 2's (150) at 159, key 3's
  // (220) at 499, key 4's (600) at 649; key 5's (1100) only at the end of input.
  EXPECT_EQ(testing::CommittedLines(tmp.Sub("out")),
            (std::map<std::string, int>{{"1,100,119", 1},
                                        {"2,150,159", 1},
                                        {"3,220,499", 1},
                                        {"4,600,649", 1},
                                        {"5,1100,max", 1}}));
}

TEST(EventTimeTest, ARecordWithoutTimestampFailsAnEventTimeWindowWithAClearError) {
  testing::TempDir tmp;
  JobBuilder b("no-timestamps");
  b.AddSource(GeneratorSource<Ev>(10, &MakeEvent, 0))
      .KeyBy([](const Ev& e) { return e.key; })
      .Window(WindowAssigner::TumblingEventTime(std::chrono::milliseconds(10)))
      .Aggregate<std::string>(Count(), &WindowLine)
      .Uid("count")
      .SinkTo(FileSink(tmp.Sub("out")));
  Configuration c = Config(tmp, 1);
  ASSERT_TRUE(c.Set(config::kRestartStrategy, "none").ok());
  auto job = JobRuntime::Create(b.Build(), c);
  ASSERT_TRUE(job.ok());
  const auto result = (*job)->Run();
  EXPECT_EQ(result.outcome, JobOutcome::kFailed);
  EXPECT_NE(result.status.message().find("window operator count: a record has no timestamp"),
            std::string::npos)
      << result.status.ToString();
}

// A source that emits one event at time 0, then nothing for `quiet_ms` (polled all the while),
// then ends, saying so in `ended`.
class QuietSource final : public SourceOperator {
 public:
  QuietSource(int64_t quiet_ms, std::atomic<bool>* ended) : quiet_ms_(quiet_ms), ended_(ended) {}
  Status Open(OperatorContext&, const std::optional<std::string>&) override {
    start_ = std::chrono::steady_clock::now();
    return Status::OK();
  }
  Result<SourcePoll> Poll(Output& out, size_t) override {
    if (!emitted_) {
      emitted_ = true;
      out.Emit(Record(Ev{0, 7}));
    }
    if (std::chrono::steady_clock::now() - start_ < std::chrono::milliseconds(quiet_ms_)) {
      return SourcePoll{SourcePoll::State::kNothingAvailable, 5};
    }
    *ended_ = true;
    return SourcePoll{SourcePoll::State::kEndOfInput, 0};
  }
  Result<std::optional<std::string>> SnapshotState(uint64_t) override {
    return std::optional<std::string>();
  }

 private:
  int64_t quiet_ms_;
  std::atomic<bool>* ended_;
  std::chrono::steady_clock::time_point start_;
  bool emitted_ = false;
};

std::atomic<bool> quiet_ended{false};
std::atomic<int> fired_before_quiet_ended{0};
std::atomic<int> fired{0};

// Registers an event-time timer at 100 for every key; counts firings, and those that came
// before the quiet source ended.
class TimerAt100 final : public KeyedProcessFunction<int64_t, Ev, std::string> {
 public:
  Status ProcessElement(const Ev&, Context& ctx, Collector<std::string>&) override {
    return ctx.timers().RegisterEventTimeTimer(100);
  }
  Status OnTimer(int64_t, Context&, Collector<std::string>&) override {
    ++fired;
    if (!quiet_ended) ++fired_before_quiet_ended;
    return Status::OK();
  }
};

TEST(EventTimeTest, ALaggingInputHoldsTheWatermarkBackUnlessItIsIdle) {
  for (bool idleness : {false, true}) {
    testing::TempDir tmp;
    quiet_ended = false;
    fired_before_quiet_ended = 0;
    fired = 0;
    auto strategy = [idleness] {
      auto s = WatermarkStrategy<Ev>::ForMonotonousTimestamps().WithTimestampAssigner(
          [](const Ev& e) { return e.time; });
      if (idleness) return std::move(s).WithIdleness(std::chrono::milliseconds(50));
      return s;
    };
    JobBuilder b("idle");
    // The busy input reaches time 1000 at once and ends; the quiet one stays at time 0 for 1.5 s.
    auto busy = b.AddSource(GeneratorSource<Ev>(101,
                                                [](uint64_t i) {
                                                  return Ev{static_cast<int64_t>(i) * 10, 1};
                                                }),
                            "busy")
                    .SetParallelism(1)
                    .AssignTimestampsAndWatermarks(strategy())
                    .SetParallelism(1);
    auto quiet =
        b.AddSource(Source<Ev>{[] { return std::make_unique<QuietSource>(1500, &quiet_ended); }},
                    "quiet")
            .SetParallelism(1)
            .AssignTimestampsAndWatermarks(strategy())
            .SetParallelism(1);
    busy.Union(quiet)
        .KeyBy([](const Ev& e) { return e.key; })
        .Process<std::string>(MakeFactory<TimerAt100>())
        .SinkTo(FileSink(tmp.Sub("out")));
    RunJob(b, tmp, 1);
    EXPECT_EQ(fired, 2) << "idleness " << idleness;  // keys 1 and 7
    // The busy input ended (its channel counts as at the maximum): without idleness the quiet
    // input's time 0 holds the watermark until it ends; idle, it is left out at once.
    EXPECT_EQ(fired_before_quiet_ended, idleness ? 2 : 0) << "idleness " << idleness;
  }
}

}  // namespace
}  // namespace weir
