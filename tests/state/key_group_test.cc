#include "weir/key_group.h"

#include <gtest/gtest.h>

#include <vector>

#include "state/row_key.h"

namespace weir {
namespace {

TEST(KeyGroupTest, AssignmentIsStableAndInRange) {
  // Frozen: a change here would move every key of every existing checkpoint.
  EXPECT_EQ(AssignToKeyGroup("", 128), static_cast<int>(0x2D06800538D394C2ULL % 128));
  std::vector<int> counts(128);
  for (int i = 0; i < 128000; ++i) {
    const int g = AssignToKeyGroup("key-" + std::to_string(i), 128);
    ASSERT_GE(g, 0);
    ASSERT_LT(g, 128);
    ++counts[g];
  }
  for (int c : counts) {
    EXPECT_GT(c, 800);  // 1000 expected per group: a stable hash spreads keys evenly
    EXPECT_LT(c, 1200);
  }
}

TEST(KeyGroupTest, MaxParallelismBounds) {
  EXPECT_TRUE(ValidateMaxParallelism(1).ok());
  EXPECT_TRUE(ValidateMaxParallelism(32768).ok());
  EXPECT_FALSE(ValidateMaxParallelism(0).ok());
  EXPECT_FALSE(ValidateMaxParallelism(32769).ok());
  EXPECT_EQ(KeyGroupPrefixBytes(128), 1);
  EXPECT_EQ(KeyGroupPrefixBytes(129), 2);
}

TEST(KeyGroupTest, SubtaskRangesPartitionAllGroups) {
  for (int max_p : {1, 7, 128, 1000, 32768}) {
    for (int p : {1, 2, 3, 4, 7}) {
      if (p > max_p) continue;
      int next = 0;
      for (int i = 0; i < p; ++i) {
        const auto r = KeyGroupRange::ForSubtask(max_p, p, i);
        EXPECT_EQ(r.start, next);
        EXPECT_FALSE(r.empty());
        next = r.end + 1;
      }
      EXPECT_EQ(next, max_p);
    }
  }
}

TEST(RowKeyTest, KeyGroupRangesAreContiguousByteRanges) {
  for (int bytes : {1, 2}) {
    const std::string a = EncodeKeyPrefix(5, bytes, std::string(300, 'z'));
    const std::string b = EncodeKeyPrefix(6, bytes, "");
    EXPECT_LT(a, b);
  }
  std::string key = EncodeKeyPrefix(300, 2, "user");
  AppendNamespace(&key, "window-1");
  key += "map-key";
  RowKeyParts parts;
  ASSERT_TRUE(ParseRowKey(key, 2, &parts));
  EXPECT_EQ(parts.key_group, 300);
  EXPECT_EQ(parts.key, "user");
  EXPECT_EQ(parts.name_space, "window-1");
  EXPECT_EQ(parts.user_key, "map-key");
  EXPECT_FALSE(ParseRowKey(key.substr(0, 4), 2, &parts));
  EXPECT_EQ(PrefixSuccessor("ab\xff"), "ac");
  EXPECT_EQ(PrefixSuccessor("\xff\xff"), "");
}

TEST(KeyGroupTest, SubtaskForKeyGroupMatchesTheRanges) {
  for (int max_p : {1, 7, 128, 1000}) {
    for (int p = 1; p <= std::min(max_p, 9); ++p) {
      for (int i = 0; i < p; ++i) {
        const KeyGroupRange r = KeyGroupRange::ForSubtask(max_p, p, i);
        for (int g = r.start; g <= r.end; ++g) {
          ASSERT_EQ(SubtaskForKeyGroup(max_p, p, g), i) << max_p << " " << p << " " << g;
        }
      }
    }
  }
}

}  // namespace
}  // namespace weir
