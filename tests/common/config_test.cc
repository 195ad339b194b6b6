#include "weir/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include "common/failpoint.h"
#include "common/thread_pool.h"
#include "config/option_registry.h"
#include "io/s3/s3_options.h"
#include "testing/temp_dir.h"

namespace weir {
namespace {

TEST(ConfigurationTest, DefaultsAndValidatedValues) {
  Configuration c;
  EXPECT_FALSE(c.Get(config::kIncremental));
  EXPECT_EQ(c.Get(config::kTransferThreads), 4);
  EXPECT_EQ(c.Get(config::kNumRetained), 1);
  ASSERT_TRUE(c.Set(config::kIncremental, "true").ok());
  ASSERT_TRUE(c.SetFromAssignment("state.checkpoints.num-retained=3").ok());
  EXPECT_TRUE(c.Get(config::kIncremental));
  EXPECT_EQ(c.Get(config::kNumRetained), 3);
}

// docs/configuration.md holds the registry's rendering: every key, its type, its default and
// the Flink key it mirrors (regenerate with `weir config keys --markdown`).
TEST(ConfigurationTest, EveryKeyIsDocumentedWithItsDefault) {
  std::ifstream in(std::string(WEIR_SOURCE_DIR) + "/docs/configuration.md");
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(doc.empty());
  EXPECT_NE(doc.find(RenderOptionsMarkdown()), std::string::npos)
      << "docs/configuration.md is out of date; its table should read:\n"
      << RenderOptionsMarkdown();
  for (const auto& d : AllOptions()) {
    EXPECT_NE(doc.find("| `" + std::string(d.key) + "` | "), std::string::npos) << d.key;
  }
}

// Each key is declared once, each default is a valid value of its option, and a key and the
// Flink key it mirrors find the same option.
TEST(ConfigurationTest, TheRegistryIsConsistent) {
  std::set<std::string_view> keys;
  for (const auto& d : AllOptions()) {
    EXPECT_TRUE(keys.insert(d.key).second) << d.key << " is declared twice";
    EXPECT_FALSE(d.description.empty()) << d.key;
    if (d.type != "string") {
      EXPECT_TRUE(d.canonicalize(d.default_text).ok()) << d.key;
    }
    EXPECT_EQ(FindOption(d.key), &d);
    if (!d.flink_key.empty()) {
      EXPECT_EQ(FindOption(d.flink_key), &d);
    }
  }
}

// A Flink user's spelling of a key this option mirrors sets the same value.
TEST(ConfigurationTest, FlinkKeysAreSynonyms) {
  Configuration c;
  ASSERT_TRUE(c.Set("s3.path.style.access", "true").ok());
  EXPECT_TRUE(c.Get(config::kS3PathStyle));
  EXPECT_TRUE(c.IsSet(config::kS3PathStyle));
}

// Flink 2.x renamed checkpointing and recovery keys: the new names set the same options.
TEST(ConfigurationTest, Flink2NamesAreSynonyms) {
  Configuration c;
  ASSERT_TRUE(c.Set("execution.checkpointing.incremental", "TRUE").ok());
  ASSERT_TRUE(c.Set("execution.checkpointing.dir", "/ck").ok());
  ASSERT_TRUE(c.Set("execution.checkpointing.num-retained", "3").ok());
  ASSERT_TRUE(c.Set("execution.checkpointing.savepoint-dir", "/sp").ok());
  ASSERT_TRUE(c.Set("execution.state-recovery.path", "/ck/j/chk-1").ok());
  ASSERT_TRUE(c.Set("execution.state-recovery.claim-mode", "no_claim").ok());
  ASSERT_TRUE(c.Set("execution.state-recovery.ignore-unclaimed-state", "True").ok());
  ASSERT_TRUE(c.Set("restart-strategy.type", "none").ok());
  ASSERT_TRUE(c.Set("execution.checkpointing.unaligned.enabled", "false").ok());
  EXPECT_TRUE(c.Get(config::kIncremental));
  EXPECT_EQ(c.Get(config::kCheckpointsDir), "/ck");
  EXPECT_EQ(c.Get(config::kNumRetained), 3);
  EXPECT_EQ(c.Get(config::kSavepointsDir), "/sp");
  EXPECT_EQ(c.Get(config::kSavepointPath), "/ck/j/chk-1");
  EXPECT_EQ(c.Get(config::kRestoreMode), RestoreMode::kNoClaim);
  EXPECT_TRUE(c.Get(config::kAllowNonRestoredState));
  EXPECT_EQ(c.Get(config::kRestartStrategy), RestartStrategy::kNone);
  EXPECT_FALSE(c.Get(config::kUnaligned));
  // The 1.x names too.
  ASSERT_TRUE(c.Set("state.savepoints.dir", "/sp1").ok());
  EXPECT_EQ(c.Get(config::kSavepointsDir), "/sp1");
}

// A Flink configuration file loads as it is: the cluster keys weir has no use for are accepted
// and listed once each; an unknown key is an error with the nearest known key.
TEST(ConfigurationTest, FlinkClusterKeysAreIgnoredAndTyposSuggested) {
  Configuration c;
  const std::string yaml =
      "jobmanager:\n  rpc.address: localhost\n  bind-host: 0.0.0.0\n"
      "taskmanager.numberOfTaskSlots: 4\ntaskmanager:\n  bind-host: 0.0.0.0\n"
      "high-availability.type: NONE\nrest.address: localhost\n"
      "parallelism.default: 2\nexecution.checkpointing.interval: 10S\n"
      "execution.checkpointing.dir: /ck\n";
  ASSERT_TRUE(c.LoadYamlString(yaml, "flink-conf").ok());
  EXPECT_EQ(c.Get(config::kParallelism), 2);
  EXPECT_EQ(c.Get(config::kInterval), std::chrono::seconds(10));
  EXPECT_EQ(c.ignored_flink_keys(),
            (std::vector<std::string>{"jobmanager.rpc.address", "jobmanager.bind-host",
                                      "taskmanager.numberOfTaskSlots", "taskmanager.bind-host",
                                      "high-availability.type", "rest.address"}));
  ASSERT_TRUE(c.Set("jobmanager.bind-host", "127.0.0.1").ok());
  EXPECT_EQ(c.ignored_flink_keys().size(), 6u) << "each key once";
  Status typo = c.Set("state.checkpoint.dir", "/x");
  EXPECT_NE(typo.message().find("did you mean 'state.checkpoints.dir'"), std::string::npos)
      << typo.message();
  Status far = c.Set("completely.unrelated", "1");
  EXPECT_FALSE(far.ok());
  EXPECT_EQ(far.message().find("did you mean"), std::string::npos) << far.message();
}

TEST(ConfigurationTest, DurationsWithUnits) {
  Configuration c;
  EXPECT_EQ(c.Get(config::kInterval).count(), 0);
  EXPECT_EQ(c.Get(config::kTimeout).count(), 600000);
  for (const auto& [text, ms] : std::vector<std::pair<std::string, int64_t>>{
           {"250", 250},     {"250ms", 250},       {"10s", 10000},        {"10 s", 10000},
           {"2min", 120000}, {"1h", 3600000},      {"3 seconds", 3000},   {"500 ms", 500},
           {"1 min", 60000}, {"1m", 60000},        {"2 h", 7200000},      {"1 d", 86400000},
           {"10 S", 10000},  {"2days", 172800000}, {"3 HOURS", 10800000}, {"1 MINUTES", 60000},
           {"1500 µs", 1},   {"2000 micros", 2},   {"3000000 ns", 3},     {"999999 nanos", 0}}) {
    ASSERT_TRUE(c.Set(config::kInterval, text).ok()) << text;
    EXPECT_EQ(c.Get(config::kInterval).count(), ms) << text;
  }
  for (const char* bad : {"", "fast", "1 fortnight", "-5s", "1.5s"}) {
    Status s = c.Set(config::kInterval, bad);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.message().find("is not a duration"), std::string::npos) << s.message();
  }
}

TEST(ConfigurationTest, EnumsAcceptFlinkAndDashedSpellings) {
  Configuration c;
  EXPECT_EQ(c.Get(config::kMode), CheckpointingMode::kExactlyOnce);
  ASSERT_TRUE(c.Set(config::kMode, "at-least-once").ok());
  EXPECT_EQ(c.Get(config::kMode), CheckpointingMode::kAtLeastOnce);
  EXPECT_EQ(c.values().at(std::string(config::kMode)),
            "AT_LEAST_ONCE");  // parsed once, stored canonical
  ASSERT_TRUE(c.Set(config::kRestartStrategy, "NONE").ok());
  EXPECT_EQ(c.Get(config::kRestartStrategy), RestartStrategy::kNone);
  EXPECT_EQ(c.values().at(std::string(config::kRestartStrategy)), "none");
  Status s = c.Set(config::kRestoreMode, "steal");
  EXPECT_NE(s.message().find("is not one of CLAIM|NO_CLAIM"), std::string::npos) << s.message();
}

TEST(ConfigurationTest, YamlFilesFlatOrNested) {
  testing::TempDir tmp;
  const std::string path = tmp.Sub("config.yaml");
  {
    std::ofstream f(path);
    f << "# weir\nparallelism.default: 4\nexecution:\n  checkpointing:\n    interval: 30 s\n"
         "    mode: AT_LEAST_ONCE\nstate.backend.incremental: true\n";
  }
  Configuration c;
  ASSERT_TRUE(c.LoadYamlFile(path).ok());
  EXPECT_EQ(c.Get(config::kParallelism), 4);
  EXPECT_EQ(c.Get(config::kInterval).count(), 30000);
  EXPECT_EQ(c.Get(config::kMode), CheckpointingMode::kAtLeastOnce);
  EXPECT_TRUE(c.Get(config::kIncremental));

  std::ofstream(tmp.Sub("unknown.yaml")) << "execution.checkpointing.intervall: 1s\n";
  Status s = c.LoadYamlFile(tmp.Sub("unknown.yaml"));
  EXPECT_NE(s.message().find("unknown.yaml: unknown configuration key "
                             "'execution.checkpointing.intervall'"),
            std::string::npos)
      << s.message();
  std::ofstream(tmp.Sub("list.yaml")) << "parallelism.default: [1, 2]\n";
  s = c.LoadYamlFile(tmp.Sub("list.yaml"));
  EXPECT_NE(s.message().find("'parallelism.default' must have a single value"), std::string::npos)
      << s.message();
  std::ofstream(tmp.Sub("broken.yaml")) << "a: [\n";
  s = c.LoadYamlFile(tmp.Sub("broken.yaml"));
  EXPECT_NE(s.message().find("broken.yaml: not valid YAML"), std::string::npos) << s.message();
  s = c.LoadYamlFile(tmp.Sub("absent.yaml"));
  EXPECT_TRUE(s.IsNotFound());
}

TEST(ConfigurationTest, BadKeysAndValuesNameWhatIsWrong) {
  Configuration c;
  Status s = c.Set("state.backend.incrementl", "true");
  EXPECT_NE(s.message().find("unknown configuration key 'state.backend.incrementl'"),
            std::string::npos);
  s = c.Set(config::kIncremental, "yes");
  EXPECT_NE(s.message().find("'yes'"), std::string::npos) << s.message();
  EXPECT_FALSE(c.Set(config::kTransferThreads, "0").ok());
  EXPECT_FALSE(c.Set(config::kTransferThreads, "4x").ok());
  EXPECT_FALSE(c.SetFromAssignment("no-equals-sign").ok());
  EXPECT_EQ(c.Get(config::kTransferThreads), 4) << "a rejected value changes nothing";
}

TEST(FailpointTest, ErrorOnTheNthHitOnly) {
  auto& fp = Failpoints::Instance();
  fp.Set("test.point", FailpointAction::kError, 2);
  EXPECT_TRUE(fp.Hit("test.point").ok());
  const Status second = fp.Hit("test.point");
  EXPECT_FALSE(second.ok());
  EXPECT_TRUE(second.retryable());
  EXPECT_NE(second.message().find("test.point"), std::string::npos);
  EXPECT_TRUE(fp.Hit("test.point").ok());
  EXPECT_EQ(fp.Hits("test.point"), 3);
  EXPECT_TRUE(fp.Hit("other.point").ok());
  fp.ClearAll();
  EXPECT_TRUE(fp.Hit("test.point").ok());
}

TEST(FailpointTest, SpecSyntax) {
  auto& fp = Failpoints::Instance();
  EXPECT_TRUE(fp.SetFromSpec("a.b=error@3;c.d=sleep:1").ok());
  EXPECT_TRUE(fp.Hit("c.d").ok());
  EXPECT_FALSE(fp.SetFromSpec("nonsense").ok());
  EXPECT_FALSE(fp.SetFromSpec("x=explode").ok());
  fp.ClearAll();
}

TEST(FailpointDeathTest, CrashKillsTheProcess) {
  EXPECT_EXIT(
      {
        Failpoints::Instance().Set("test.crash", FailpointAction::kCrash);
        (void)Failpoints::Instance().Hit("test.crash");
      },
      ::testing::KilledBySignal(SIGKILL), "");
}

TEST(ThreadPoolTest, RunsEverythingAndWaitsIdle) {
  std::atomic<int> sum{0};
  {
    ThreadPool pool(3);
    std::vector<std::future<int>> results;
    for (int i = 1; i <= 100; ++i) {
      results.push_back(pool.Submit([i, &sum] {
        sum += i;
        return i * 2;
      }));
    }
    pool.WaitIdle();
    EXPECT_EQ(sum.load(), 5050);
    EXPECT_EQ(results[9].get(), 20);
    for (int i = 0; i < 10; ++i) pool.Submit([&sum] { sum += 1; });
  }  // the destructor runs what was submitted
  EXPECT_EQ(sum.load(), 5060);
}

// WaitIdle promises that nothing submitted is still alive: what a task captured (a snapshot's
// view that keeps a database open, say) is destroyed before the pool counts as idle.
TEST(ThreadPoolTest, WaitIdleReturnsAfterTheTasksCapturesAreGone) {
  struct SlowToRelease {
    explicit SlowToRelease(std::atomic<bool>* r) : released(r) {}
    std::atomic<bool>* released;
    ~SlowToRelease() {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      released->store(true);
    }
  };
  ThreadPool pool(1);
  for (int i = 0; i < 3; ++i) {
    std::atomic<bool> released{false};
    auto held = std::make_shared<SlowToRelease>(&released);
    pool.Submit([held = std::move(held)] { (void)held; });
    pool.WaitIdle();
    EXPECT_TRUE(released.load()) << "round " << i;
  }
}

}  // namespace
}  // namespace weir

namespace weir {
namespace {

TEST(ConfigurationTest, RecursiveAliasesAndDeepNestingAreErrorsNotCrashes) {
  Configuration c;
  // A map that contains itself through an alias.
  Status s = c.LoadYamlString("a: &x\n  b: *x\n", "test");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += std::string(static_cast<size_t>(i) * 2, ' ') + "k:\n";
  s = c.LoadYamlString(deep, "test");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
}

TEST(ConfigurationTest, DurationsThatWouldOverflowAreRefused) {
  Configuration c;
  EXPECT_FALSE(c.Set(config::kInterval, "9223372036854775807 ms").ok());
  EXPECT_FALSE(c.Set(config::kInterval, "9223372036854775807").ok());
  EXPECT_FALSE(c.Set(config::kTimeout, "100000000000000 h").ok());
  EXPECT_TRUE(c.Set(config::kInterval, "1000000000 s").ok());
}

// Flink's memory sizes: a number and an optional unit (powers of 1024); no unit is bytes.
TEST(ConfigurationTest, MemorySizesWithUnits) {
  Configuration c;
  EXPECT_EQ(c.Get(config::kS3PartSize).bytes, uint64_t{16} << 20);
  for (const auto& [text, bytes] :
       std::vector<std::pair<std::string, uint64_t>>{{"64 mb", uint64_t{64} << 20},
                                                     {"64mb", uint64_t{64} << 20},
                                                     {"1 gb", uint64_t{1} << 30},
                                                     {"6291456", 6291456},
                                                     {"8192 kb", uint64_t{8} << 20},
                                                     {"2G", uint64_t{2} << 30}}) {
    ASSERT_TRUE(c.Set(config::kS3PartSize, text).ok()) << text;
    EXPECT_EQ(c.Get(config::kS3PartSize).bytes, bytes) << text;
  }
  for (const char* bad : {"", "big", "64 zb", "-1 mb", "1.5 gb", "1 mb" /* below 5 mb */}) {
    Status s = c.Set(config::kS3PartSize, bad);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.message().find("is not a memory size"), std::string::npos) << s.message();
  }
  EXPECT_FALSE(ParseMemorySize("9223372036854775807 tb").ok());
  EXPECT_EQ(FormatMemorySize({uint64_t{16} << 20}), "16 mb");
  EXPECT_EQ(FormatMemorySize({1000}), "1000 b");
  EXPECT_EQ(FormatDuration(std::chrono::minutes(10)), "10 min");
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(1500)), "1500 ms");
}

TEST(ConfigurationTest, ConfigFileMustBeARegularFile) {
  testing::TempDir tmp;
  ASSERT_EQ(::mkfifo(tmp.Sub("fifo").c_str(), 0644), 0);
  Configuration c;
  EXPECT_EQ(c.LoadYamlFile(tmp.Sub("fifo")).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(c.LoadYamlFile(tmp.Sub("missing")).IsNotFound());
}

}  // namespace
}  // namespace weir
