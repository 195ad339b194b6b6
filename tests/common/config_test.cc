#include "weir/config.h"

#include <gtest/gtest.h>

#include <atomic>

#include "common/failpoint.h"
#include "common/thread_pool.h"

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
