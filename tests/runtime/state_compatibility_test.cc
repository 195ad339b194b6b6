// A job resumed from a checkpoint whose states its operators register with another kind or other
// serializers, or with another max parallelism, is refused before any task starts, naming the
// operator, the state and both descriptions; the checkpoint stays as it was, and a job that fits
// still resumes (also when its Open lists keys, which the probe refuses).
#include "runtime/state_compatibility.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include "runtime/job_runtime.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"
#include "weir/connectors.h"
#include "weir/job.h"

namespace weir {
namespace {

// Counts per key in a value state of type V and remembers the keys in a map state.
template <typename V>
class Counter final : public KeyedProcessFunction<uint64_t, uint64_t, std::string> {
 public:
  explicit Counter(bool read_in_open) : read_in_open_(read_in_open) {}
  Status Open(KeyedStateBackend& state, const RuntimeInfo&) override {
    WEIR_ASSIGN_OR_RETURN(count_, state.GetValueState(ValueStateDescriptor<V>{"count"}));
    WEIR_ASSIGN_OR_RETURN(seen_, state.GetMapState(MapStateDescriptor<uint64_t, bool>{"seen"}));
    if (read_in_open_) {
      // Lists the restored keys: the real backend answers, the probe refuses.
      WEIR_ASSIGN_OR_RETURN(auto keys, state.GetKeys("count", *DefaultSerializer<uint64_t>()));
      restored_keys_ = keys.size();
    }
    return Status::OK();
  }
  Status ProcessElement(const uint64_t& v, Context&, Collector<std::string>& out) override {
    WEIR_ASSIGN_OR_RETURN(auto count, count_->Value());
    V next = count.value_or(V{}) + V{1};
    WEIR_RETURN_IF_ERROR(count_->Update(next));
    WEIR_RETURN_IF_ERROR(seen_->Put(v, true));
    out.Collect(std::to_string(v));
    return Status::OK();
  }

 private:
  bool read_in_open_;
  size_t restored_keys_ = 0;
  ValueState<V>* count_ = nullptr;
  MapState<uint64_t, bool>* seen_ = nullptr;
};

// Like Counter<int64_t>, with "seen" keyed by strings.
class StringSeen final : public KeyedProcessFunction<uint64_t, uint64_t, std::string> {
 public:
  Status Open(KeyedStateBackend& state, const RuntimeInfo&) override {
    WEIR_ASSIGN_OR_RETURN(auto c, state.GetValueState(ValueStateDescriptor<int64_t>{"count"}));
    (void)c;
    WEIR_ASSIGN_OR_RETURN(auto s, state.GetMapState(MapStateDescriptor<std::string, bool>{"seen"}));
    (void)s;
    return Status::OK();
  }
  Status ProcessElement(const uint64_t&, Context&, Collector<std::string>&) override {
    return Status::OK();
  }
};

JobGraph CountingJob(
    const std::string& out, uint64_t events, std::atomic<int>* source_opens,
    std::function<std::unique_ptr<KeyedProcessFunction<uint64_t, uint64_t, std::string>>()> fn) {
  JobBuilder job("count");
  auto source = GeneratorSource<uint64_t>(
      events, [](uint64_t i) { return i % 50; }, 5000);
  auto open_source = source.factory;
  source.factory = [open_source, source_opens] {
    if (source_opens != nullptr) ++*source_opens;
    return open_source();
  };
  job.AddSource(std::move(source), "numbers")
      .Uid("numbers")
      .KeyBy([](const uint64_t& v) { return v; })
      .Process<std::string>(std::move(fn), "counter")
      .Uid("counter")
      .SinkTo(FileSink(out), "sink")
      .Uid("sink");
  return job.Build();
}

Configuration Config(const testing::TempDir& tmp) {
  Configuration c;
  EXPECT_TRUE(c.Set(config::kParallelism, "2").ok());
  EXPECT_TRUE(c.Set(config::kInterval, "40ms").ok());
  EXPECT_TRUE(c.Set(config::kCheckpointsDir, tmp.Sub("checkpoints")).ok());
  EXPECT_TRUE(c.Set(config::kLocalDir, tmp.Sub("local")).ok());
  EXPECT_TRUE(c.Set(config::kRestartDelay, "10ms").ok());
  return c;
}

std::map<std::string, uintmax_t> FilesUnder(const std::string& dir) {
  std::map<std::string, uintmax_t> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) files[e.path().string()] = e.file_size();
  }
  return files;
}

class StateCompatibilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A checkpointed run of Counter<int64_t>, cancelled once a checkpoint completed.
    auto job =
        JobRuntime::Create(CountingJob(tmp_.Sub("out"), UINT64_MAX / 2, nullptr,
                                       [] { return std::make_unique<Counter<int64_t>>(false); }),
                           Config(tmp_));
    ASSERT_TRUE(job.ok()) << job.status().ToString();
    std::thread canceller([&] {
      testing::WaitFor([&] { return !(*job)->completed_checkpoints().empty(); });
      (*job)->Cancel();
    });
    JobResult result = (*job)->Run();
    canceller.join();
    ASSERT_EQ(result.outcome, JobOutcome::kCancelled);
    checkpoint_ = result.latest_checkpoint_path;
    ASSERT_FALSE(checkpoint_.empty());
    before_ = FilesUnder(tmp_.Sub("checkpoints"));
  }

  Configuration ResumeConfig() {
    Configuration c = Config(tmp_);
    EXPECT_TRUE(c.Set(config::kSavepointPath, checkpoint_).ok());
    return c;
  }

  testing::TempDir tmp_;
  std::string checkpoint_;
  std::map<std::string, uintmax_t> before_;
};

TEST_F(StateCompatibilityTest, AChangedValueSerializerIsRefusedBeforeAnyTaskStarts) {
  std::atomic<int> source_opens{0};
  auto job =
      JobRuntime::Create(CountingJob(tmp_.Sub("out2"), 100, &source_opens,
                                     [] { return std::make_unique<Counter<std::string>>(false); }),
                         ResumeConfig());
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), StatusCode::kInvalidArgument);
  const std::string m = job.status().message();
  EXPECT_NE(m.find("operator 'counter' registers state 'count' as value state with serializer "
                   "string, the checkpoint holds it as value state with serializer i64"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find(checkpoint_), std::string::npos) << m;
  EXPECT_EQ(source_opens.load(), 0);
  EXPECT_EQ(FilesUnder(tmp_.Sub("checkpoints")), before_);
}

TEST_F(StateCompatibilityTest, AChangedMapKeySerializerIsRefused) {
  auto job = JobRuntime::Create(
      CountingJob(tmp_.Sub("out2"), 100, nullptr, [] { return std::make_unique<StringSeen>(); }),
      ResumeConfig());
  ASSERT_FALSE(job.ok());
  EXPECT_NE(job.status().message().find("registers state 'seen' as map state with serializer "
                                        "bool and key serializer string"),
            std::string::npos)
      << job.status().message();
  EXPECT_EQ(FilesUnder(tmp_.Sub("checkpoints")), before_);
}

TEST_F(StateCompatibilityTest, AChangedMaxParallelismIsRefusedBeforeAnyTaskStarts) {
  Configuration c = ResumeConfig();
  ASSERT_TRUE(c.Set(config::kMaxParallelism, "64").ok());
  std::atomic<int> source_opens{0};
  auto job =
      JobRuntime::Create(CountingJob(tmp_.Sub("out"), 100, &source_opens,
                                     [] { return std::make_unique<Counter<int64_t>>(false); }),
                         c);
  ASSERT_FALSE(job.ok());
  EXPECT_NE(
      job.status().message().find("was checkpointed with max parallelism 128, the job has 64"),
      std::string::npos)
      << job.status().message();
  EXPECT_EQ(source_opens.load(), 0);
  EXPECT_EQ(FilesUnder(tmp_.Sub("checkpoints")), before_);
}

TEST_F(StateCompatibilityTest, AJobThatFitsResumesEvenIfItsOpenReadsTheKeys) {
  Configuration c = ResumeConfig();
  ASSERT_TRUE(c.Set(config::kInterval, "0").ok());
  // The same output directory: the checkpoint's pending parts are committed from it.
  auto job =
      JobRuntime::Create(CountingJob(tmp_.Sub("out"), 200, nullptr,
                                     [] { return std::make_unique<Counter<int64_t>>(true); }),
                         c);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  JobResult result = (*job)->Run();
  EXPECT_EQ(result.outcome, JobOutcome::kFinished) << result.status.ToString();
}

}  // namespace
}  // namespace weir
