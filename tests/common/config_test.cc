#include "weir/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>

#include "common/failpoint.h"
#include "common/thread_pool.h"
#include "testing/temp_dir.h"

namespace weir {
namespace {

TEST(ConfigurationTest, DefaultsAndValidatedValues) {
  Configuration c;
  EXPECT_FALSE(c.GetBool(config::kIncremental));
  EXPECT_EQ(c.GetInt(config::kTransferThreads), 4);
  EXPECT_EQ(c.GetInt(config::kNumRetained), 1);
  ASSERT_TRUE(c.Set(config::kIncremental, "true").ok());
  ASSERT_TRUE(c.SetFromAssignment("state.checkpoints.num-retained=3").ok());
  EXPECT_TRUE(c.GetBool(config::kIncremental));
  EXPECT_EQ(c.GetInt(config::kNumRetained), 3);
}

// docs/configuration.md lists every key with its default.
TEST(ConfigurationTest, EveryKeyIsDocumentedWithItsDefault) {
  std::ifstream in(std::string(WEIR_SOURCE_DIR) + "/docs/configuration.md");
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(doc.empty());
  for (const auto& k : KnownConfigKeys()) {
    const std::string row = "| `" + std::string(k.key) + "` | ";
    const size_t at = doc.find(row);
    ASSERT_NE(at, std::string::npos) << k.key << " is not documented";
    const std::string cell =
        doc.substr(at + row.size(), doc.find(" |", at + row.size()) - at - row.size());
    if (!k.default_value.empty()) {
      EXPECT_EQ(cell, "`" + std::string(k.default_value) + "`") << k.key;
    }
  }
}

TEST(ConfigurationTest, DurationsWithUnits) {
  Configuration c;
  EXPECT_EQ(c.GetDurationMs(config::kInterval), 0);
  EXPECT_EQ(c.GetDurationMs(config::kTimeout), 600000);
  for (const auto& [text, ms] : std::vector<std::pair<std::string, int64_t>>{{"250", 250},
                                                                             {"250ms", 250},
                                                                             {"10s", 10000},
                                                                             {"10 s", 10000},
                                                                             {"2min", 120000},
                                                                             {"1h", 3600000},
                                                                             {"3 seconds", 3000}}) {
    ASSERT_TRUE(c.Set(config::kInterval, text).ok()) << text;
    EXPECT_EQ(c.GetDurationMs(config::kInterval), ms) << text;
  }
  for (const char* bad : {"", "fast", "1 fortnight", "-5s", "1.5s"}) {
    Status s = c.Set(config::kInterval, bad);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.message().find("is not a duration"), std::string::npos) << s.message();
  }
}

TEST(ConfigurationTest, EnumsAcceptFlinkAndDashedSpellings) {
  Configuration c;
  EXPECT_EQ(c.GetString(config::kMode), "EXACTLY_ONCE");
  ASSERT_TRUE(c.Set(config::kMode, "at-least-once").ok());
  EXPECT_EQ(c.GetString(config::kMode), "AT_LEAST_ONCE");
  ASSERT_TRUE(c.Set(config::kRestartStrategy, "NONE").ok());
  EXPECT_EQ(c.GetString(config::kRestartStrategy), "none");
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
  EXPECT_EQ(c.GetInt(config::kParallelism), 4);
  EXPECT_EQ(c.GetDurationMs(config::kInterval), 30000);
  EXPECT_EQ(c.GetString(config::kMode), "AT_LEAST_ONCE");
  EXPECT_TRUE(c.GetBool(config::kIncremental));

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
  EXPECT_EQ(c.GetInt(config::kTransferThreads), 4) << "a rejected value changes nothing";
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

TEST(ConfigurationTest, ConfigFileMustBeARegularFile) {
  testing::TempDir tmp;
  ASSERT_EQ(::mkfifo(tmp.Sub("fifo").c_str(), 0644), 0);
  Configuration c;
  EXPECT_EQ(c.LoadYamlFile(tmp.Sub("fifo")).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(c.LoadYamlFile(tmp.Sub("missing")).IsNotFound());
}

}  // namespace
}  // namespace weir
