// Two-input graphs in one process: Union of two streams, a keyed Connect (a co-process function
// seeing both inputs' records of a key with one keyed state) and one without keys, with checkpoints
// whose barriers align across both inputs, and a failure in the middle: the output is exactly-once.
// The plan refuses what it cannot run.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "runtime/execution_plan.h"
#include "runtime/job_runtime.h"
#include "testing/output_oracle.h"
#include "testing/temp_dir.h"
#include "weir/connectors.h"
#include "weir/job.h"

namespace weir {
namespace {

Configuration TwoInputConfig(const testing::TempDir& tmp, int parallelism) {
  Configuration c;
  EXPECT_TRUE(c.Set(config::kParallelism, std::to_string(parallelism)).ok());
  EXPECT_TRUE(c.Set(config::kInterval, "30ms").ok());
  EXPECT_TRUE(c.Set(config::kCheckpointsDir, tmp.Sub("checkpoints")).ok());
  EXPECT_TRUE(c.Set(config::kLocalDir, tmp.Sub("local")).ok());
  EXPECT_TRUE(c.Set(config::kRestartDelay, "10ms").ok());
  return c;
}

// Fails the job once, at the first record after `armed` is set (a checkpoint completed).
std::atomic<bool> armed{false};
std::atomic<bool> failed_once{false};
Status MaybeFail() {
  if (armed && !failed_once.exchange(true)) return Status::IOError("injected failure");
  return Status::OK();
}

// Per key, the number of records of either input so far: "key,count".
class CountBoth final
    : public KeyedCoProcessFunction<uint64_t, uint64_t, std::string, std::string> {
 public:
  Status Open(KeyedStateBackend& state, const RuntimeInfo&) override {
    WEIR_ASSIGN_OR_RETURN(count_, state.GetValueState(ValueStateDescriptor<int64_t>{"count"}));
    return Status::OK();
  }
  Status ProcessElement1(const uint64_t&, Context& ctx, Collector<std::string>& out) override {
    WEIR_RETURN_IF_ERROR(MaybeFail());
    return Count(ctx, out);
  }
  Status ProcessElement2(const std::string&, Context& ctx, Collector<std::string>& out) override {
    return Count(ctx, out);
  }

 private:
  Status Count(Context& ctx, Collector<std::string>& out) {
    WEIR_ASSIGN_OR_RETURN(std::optional<int64_t> n, count_->Value());
    WEIR_RETURN_IF_ERROR(count_->Update(n.value_or(0) + 1));
    out.Collect(std::to_string(ctx.CurrentKey()) + "," + std::to_string(n.value_or(0) + 1));
    return Status::OK();
  }
  ValueState<int64_t>* count_ = nullptr;
};

class CountOne final : public KeyedProcessFunction<uint64_t, uint64_t, std::string> {
 public:
  Status Open(KeyedStateBackend& state, const RuntimeInfo&) override {
    WEIR_ASSIGN_OR_RETURN(count_, state.GetValueState(ValueStateDescriptor<int64_t>{"count"}));
    return Status::OK();
  }
  Status ProcessElement(const uint64_t&, Context& ctx, Collector<std::string>& out) override {
    WEIR_RETURN_IF_ERROR(MaybeFail());
    WEIR_ASSIGN_OR_RETURN(std::optional<int64_t> n, count_->Value());
    WEIR_RETURN_IF_ERROR(count_->Update(n.value_or(0) + 1));
    out.Collect(std::to_string(ctx.CurrentKey()) + "," + std::to_string(n.value_or(0) + 1));
    return Status::OK();
  }

 private:
  ValueState<int64_t>* count_ = nullptr;
};

// Without keys: tags each record with the input it came from, "<input>:<value>".
class TagInputs final : public CoProcessFunction<uint64_t, std::string, std::string> {
 public:
  Status ProcessElement1(const uint64_t& v, Context&, Collector<std::string>& out) override {
    WEIR_RETURN_IF_ERROR(MaybeFail());
    out.Collect("1:" + std::to_string(v));
    return Status::OK();
  }
  Status ProcessElement2(const std::string& v, Context&, Collector<std::string>& out) override {
    out.Collect("2:" + v);
    return Status::OK();
  }
};

// Runs the job; arms the failure once a checkpoint completed. Returns the restarts.
int RunWithOneFailure(JobBuilder& b, const testing::TempDir& tmp, int parallelism) {
  armed = false;
  failed_once = false;
  auto job = JobRuntime::Create(b.Build(), TwoInputConfig(tmp, parallelism));
  EXPECT_TRUE(job.ok()) << job.status().ToString();
  if (!job.ok()) return -1;
  std::atomic<bool> ended{false};
  std::thread arm([&] {
    while (!ended && !armed) {
      const auto stats = (*job)->checkpoint_stats();
      if (stats && stats->completed > 0) armed = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  const JobResult result = (*job)->Run();
  ended = true;
  arm.join();
  EXPECT_EQ(result.outcome, JobOutcome::kFinished) << result.status.ToString();
  return result.restarts;
}

constexpr uint64_t kJoinKeys = 50;

TEST(TwoInputTest, UnionIsExactlyOnceThroughAFailure) {
  testing::TempDir tmp;
  JobBuilder b("union");
  auto odd = b.AddSource(GeneratorSource<uint64_t>(
                             6000, [](uint64_t i) { return i % kJoinKeys; }, 20000),
                         "a")
                 .Uid("a");
  auto even = b.AddSource(GeneratorSource<uint64_t>(
                              4000, [](uint64_t i) { return i % kJoinKeys; }, 15000),
                          "b")
                  .Uid("b");
  odd.Union(even)
      .Uid("union")
      .KeyBy([](const uint64_t& k) { return k; })
      .Process<std::string>(MakeFactory<CountOne>(), "count")
      .Uid("count")
      .SinkTo(FileSink(tmp.Sub("out")))
      .Uid("sink");
  EXPECT_EQ(RunWithOneFailure(b, tmp, 2), 1);
  std::map<std::string, testing::KeyTotals> expected;
  for (uint64_t k = 0; k < kJoinKeys; ++k) expected[std::to_string(k)].count = 200;
  Status s = testing::CheckRunningCounts(tmp.Sub("out"), expected);
  EXPECT_TRUE(s.ok()) << s.message();
}

TEST(TwoInputTest, KeyedConnectSeesBothInputsOfAKeyExactlyOnceThroughAFailure) {
  testing::TempDir tmp;
  JobBuilder b("connect");
  auto numbers = b.AddSource(GeneratorSource<uint64_t>(
                                 6000, [](uint64_t i) { return i % kJoinKeys; }, 20000),
                             "numbers")
                     .Uid("numbers");
  auto names =
      b.AddSource(GeneratorSource<std::string>(
                      3000, [](uint64_t i) { return "k" + std::to_string(i % kJoinKeys); }, 10000),
                  "names")
          .Uid("names");
  numbers.Connect(names)
      .KeyBy([](const uint64_t& k) { return k; },
             [](const std::string& name) { return std::stoull(name.substr(1)); })
      .Process<std::string>(MakeFactory<CountBoth>(), "join")
      .Uid("join")
      .SinkTo(FileSink(tmp.Sub("out")))
      .Uid("sink");
  EXPECT_EQ(RunWithOneFailure(b, tmp, 3), 1);
  std::map<std::string, testing::KeyTotals> expected;
  for (uint64_t k = 0; k < kJoinKeys; ++k) expected[std::to_string(k)].count = 120 + 60;
  Status s = testing::CheckRunningCounts(tmp.Sub("out"), expected);
  EXPECT_TRUE(s.ok()) << s.message();
}

TEST(TwoInputTest, ConnectWithoutKeysSeesEveryRecordOfBothInputsExactlyOnceThroughAFailure) {
  testing::TempDir tmp;
  JobBuilder b("co-process");
  auto numbers = b.AddSource(GeneratorSource<uint64_t>(
                                 5000, [](uint64_t i) { return i; }, 20000),
                             "numbers")
                     .Uid("numbers");
  auto names = b.AddSource(GeneratorSource<std::string>(
                               2000, [](uint64_t i) { return "n" + std::to_string(i); }, 10000),
                           "names")
                   .Uid("names");
  numbers.Connect(names)
      .Process<std::string>(MakeFactory<TagInputs>(), "tag")
      .Uid("tag")
      .SinkTo(FileSink(tmp.Sub("out")))
      .Uid("sink");
  EXPECT_EQ(RunWithOneFailure(b, tmp, 2), 1);
  const std::map<std::string, int> lines = testing::CommittedLines(tmp.Sub("out"));
  EXPECT_EQ(lines.size(), 7000u);
  for (uint64_t i = 0; i < 5000; ++i) {
    const auto it = lines.find("1:" + std::to_string(i));
    ASSERT_TRUE(it != lines.end()) << "1:" << i << " missing";
    EXPECT_EQ(it->second, 1) << "1:" << i;
  }
  for (uint64_t i = 0; i < 2000; ++i) {
    const auto it = lines.find("2:n" + std::to_string(i));
    ASSERT_TRUE(it != lines.end()) << "2:n" << i << " missing";
    EXPECT_EQ(it->second, 1) << "2:n" << i;
  }
}

TEST(TwoInputTest, ThePlanRefusesAnInputTwiceAndMixedKeying) {
  JobBuilder b("bad");
  auto a = b.AddSource(GeneratorSource<uint64_t>(10, [](uint64_t i) { return i; }), "a");
  a.Union(a).Map([](const uint64_t& v) { return std::to_string(v); }).SinkTo(FileSink("/x"));
  auto plan = PlanExecution(b.Build(), 1, 128);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("second input"), std::string::npos)
      << plan.status().ToString();

  JobGraph mixed = b.Build();
  mixed.operators[1].input2 = -1;
  OperatorSpec keyed;
  keyed.name = "half-keyed";
  keyed.input = 0;
  keyed.partitioning = Partitioning::kKeyed;
  keyed.key_of = [](const Record&) { return std::string("k"); };
  keyed.input2 = 2;
  keyed.new_operator = [] { return std::unique_ptr<StreamOperator>(); };
  mixed.operators.push_back(keyed);
  plan = PlanExecution(mixed, 1, 128);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("both inputs keyed or neither"), std::string::npos)
      << plan.status().ToString();
}

}  // namespace
}  // namespace weir
