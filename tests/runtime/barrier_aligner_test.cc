#include "runtime/barrier/barrier_aligner.h"

#include <gtest/gtest.h>

namespace weir {
namespace {

TEST(BarrierAlignerTest, ExactlyOnceBlocksChannelsUntilAllDeliveredTheBarrier) {
  BarrierAligner a(3, /*exactly_once=*/true);
  auto d = a.OnBarrier(1, 5);
  EXPECT_FALSE(d.snapshot.has_value());
  EXPECT_EQ(a.blocked(), (std::vector<bool>{false, true, false}));
  d = a.OnBarrier(0, 5);
  EXPECT_EQ(a.blocked(), (std::vector<bool>{true, true, false}));
  EXPECT_FALSE(d.snapshot.has_value());
  d = a.OnBarrier(2, 5);
  EXPECT_EQ(d.snapshot, 5u);
  EXPECT_EQ(a.blocked(), (std::vector<bool>{false, false, false}));
  EXPECT_FALSE(a.aligning().has_value());
}

TEST(BarrierAlignerTest, AtLeastOnceNeverBlocks) {
  BarrierAligner a(2, /*exactly_once=*/false);
  EXPECT_FALSE(a.OnBarrier(0, 1).snapshot.has_value());
  EXPECT_EQ(a.blocked(), (std::vector<bool>{false, false}));
  EXPECT_EQ(a.OnBarrier(1, 1).snapshot, 1u);
}

TEST(BarrierAlignerTest, SingleChannelSnapshotsAtOnce) {
  BarrierAligner a(1, true);
  EXPECT_EQ(a.OnBarrier(0, 7).snapshot, 7u);
  EXPECT_EQ(a.blocked(), std::vector<bool>{false});
}

TEST(BarrierAlignerTest, NewerBarrierAbandonsTheAlignmentInProgress) {
  BarrierAligner a(2, true);
  a.OnBarrier(0, 3);
  // Channel 1 skipped 3 (its source declined it): 4 arrives first.
  auto d = a.OnBarrier(1, 4);
  EXPECT_EQ(d.abandoned, 3u);
  EXPECT_FALSE(d.snapshot.has_value());
  EXPECT_EQ(a.blocked(), (std::vector<bool>{false, true}));
  d = a.OnBarrier(0, 4);
  EXPECT_EQ(d.snapshot, 4u);
  // A late barrier of 3 is ignored.
  d = a.OnBarrier(1, 3);
  EXPECT_FALSE(d.snapshot.has_value());
  EXPECT_FALSE(a.aligning().has_value());
}

TEST(BarrierAlignerTest, AbortReleasesBlockedChannelsAndIgnoresLaterBarriers) {
  BarrierAligner a(2, true);
  a.OnBarrier(0, 8);
  a.OnAbort(8);
  EXPECT_EQ(a.blocked(), (std::vector<bool>{false, false}));
  EXPECT_FALSE(a.OnBarrier(1, 8).snapshot.has_value());
  EXPECT_FALSE(a.aligning().has_value());
  // An abort of a checkpoint whose barriers have not come yet: they are ignored too.
  a.OnAbort(9);
  EXPECT_FALSE(a.OnBarrier(0, 9).snapshot.has_value());
  EXPECT_FALSE(a.OnBarrier(1, 9).snapshot.has_value());
  EXPECT_EQ(a.OnBarrier(0, 10).snapshot, std::nullopt);
  EXPECT_EQ(a.OnBarrier(1, 10).snapshot, 10u);
}

}  // namespace
}  // namespace weir
