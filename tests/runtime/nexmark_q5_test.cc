// The Nexmark-style generator follows the model it claims (proportions, hot auctions, event
// times), and Nexmark query 5 as a weir job — two keyed stages over sliding event-time windows,
// with incremental checkpoints and a restart from one — commits exactly the answer computed
// directly from the generated events.
#include <gtest/gtest.h>

#include <map>

#include "common/failpoint.h"
#include "nexmark_generator.h"
#include "q5_hot_items.h"
#include "runtime/job_runtime.h"
#include "testing/output_oracle.h"
#include "testing/temp_dir.h"

namespace weir {
namespace {

TEST(NexmarkGeneratorTest, FollowsTheAuctionModel) {
  nexmark::GeneratorConfig config;
  config.tps = 1000;
  std::map<nexmark::Event::Kind, int> kinds;
  int hot = 0, bids = 0;
  int64_t last_time = 0;
  for (uint64_t n = 0; n < 50'000; ++n) {
    const nexmark::Event e = nexmark::GenerateEvent(n, config);
    ++kinds[e.kind];
    EXPECT_GE(e.date_time_ms, last_time);
    last_time = e.date_time_ms;
    EXPECT_EQ(e.date_time_ms, config.base_time_ms + static_cast<int64_t>(n));  // 1 ms per event
    if (e.kind == nexmark::Event::Kind::kBid) {
      ++bids;
      EXPECT_GE(e.auction, 1000);
      EXPECT_GE(e.price, 100);
      EXPECT_LE(e.price, 100'000'000);
      if (e.auction % 100 == 0) ++hot;
      EXPECT_EQ(e.extra.size(), 68u);
    }
  }
  EXPECT_EQ(kinds[nexmark::Event::Kind::kPerson], 1000);
  EXPECT_EQ(kinds[nexmark::Event::Kind::kAuction], 3000);
  EXPECT_EQ(kinds[nexmark::Event::Kind::kBid], 46000);
  // Half the bids on the hot auction, plus the in-flight picks that happen to hit it.
  EXPECT_GT(hot, bids / 2);
  EXPECT_LT(hot, bids * 6 / 10);
  // A pure function of the event number.
  const nexmark::Event a = nexmark::GenerateEvent(12345, config);
  const nexmark::Event b = nexmark::GenerateEvent(12345, config);
  EXPECT_EQ(a.auction, b.auction);
  EXPECT_EQ(a.bidder, b.bidder);
  EXPECT_EQ(a.extra, b.extra);
}

TEST(NexmarkQ5Test, HotItemsMatchTheReferenceAnswerThroughARestart) {
  testing::TempDir tmp;
  nexmark::Q5Options options;
  options.events = 150'000;
  options.generator.tps = 10'000;  // 15 s of event time: windows fire as the watermark moves
  options.output = tmp.Sub("out");
  auto graph = nexmark::BuildQ5(options);
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  Configuration c;
  ASSERT_TRUE(c.Set(config::kParallelism, "2").ok());
  ASSERT_TRUE(c.Set(config::kInterval, "50ms").ok());
  ASSERT_TRUE(c.Set(config::kIncremental, "true").ok());
  ASSERT_TRUE(c.Set(config::kCheckpointsDir, tmp.Sub("checkpoints")).ok());
  ASSERT_TRUE(c.Set(config::kLocalDir, tmp.Sub("local")).ok());
  ASSERT_TRUE(c.Set(config::kRestartDelay, "10ms").ok());
  auto job = JobRuntime::Create(std::move(graph).value(), c);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  // A task's snapshot fails in a later checkpoint: with no tolerated checkpoint failures the
  // job fails and restarts from the latest completed checkpoint.
  Failpoints::Instance().Set("task.snapshot", FailpointAction::kError, 20);
  const JobResult result = (*job)->Run();
  Failpoints::Instance().ClearAll();
  EXPECT_EQ(result.restarts, 1);
  ASSERT_EQ(result.outcome, JobOutcome::kFinished) << result.status.ToString();
  const std::map<std::string, int> expected = nexmark::Q5ReferenceAnswer(options);
  ASSERT_GT(expected.size(), 5u);
  EXPECT_EQ(testing::CommittedLines(options.output), expected);
}

}  // namespace
}  // namespace weir
