// The leader's assignment of shards to members: balanced (every member floor or ceil of the
// share), sticky (a live owner within its share keeps its shards; a join or a leave moves only
// what balance needs), deterministic; and its text form refuses crafted or damaged lines.
#include "cluster/shard_assignment.h"

#include <gtest/gtest.h>

#include <random>

namespace weir::cluster {
namespace {

std::map<std::string, int> Counts(const ShardAssignment& a) {
  std::map<std::string, int> c;
  for (const auto& [s, m] : a) ++c[m];
  return c;
}

void ExpectBalanced(const ShardAssignment& a, int shards, const std::vector<std::string>& members) {
  ASSERT_EQ(a.size(), static_cast<size_t>(shards));
  for (int s = 0; s < shards; ++s) ASSERT_EQ(a.count(s), 1u) << s;
  const auto counts = Counts(a);
  const int n = static_cast<int>(members.size());
  for (const auto& m : members) {
    const int c = counts.count(m) ? counts.at(m) : 0;
    EXPECT_GE(c, shards / n) << m;
    EXPECT_LE(c, (shards + n - 1) / n) << m;
  }
  for (const auto& [m, c] : counts) {
    EXPECT_NE(std::find(members.begin(), members.end(), m), members.end()) << m << " is not live";
  }
}

int Moved(const ShardAssignment& before, const ShardAssignment& after) {
  int moved = 0;
  for (const auto& [s, m] : after) {
    const auto it = before.find(s);
    if (it != before.end() && it->second != m) ++moved;
  }
  return moved;
}

TEST(ShardAssignmentTest, BalancedFromScratchAndEmptyWithoutMembers) {
  EXPECT_TRUE(AssignShards(8, {}, {}).empty());
  ExpectBalanced(AssignShards(8, {"a", "b", "c"}, {}), 8, {"a", "b", "c"});
  ExpectBalanced(AssignShards(2, {"a", "b", "c"}, {}), 2, {"a", "b", "c"});
  // Deterministic whatever the order the members are listed in.
  EXPECT_EQ(AssignShards(10, {"c", "a", "b"}, {}), AssignShards(10, {"a", "b", "c"}, {}));
}

TEST(ShardAssignmentTest, ALeavingMemberMovesOnlyItsShards) {
  const ShardAssignment three = AssignShards(12, {"a", "b", "c"}, {});
  const ShardAssignment two = AssignShards(12, {"a", "c"}, three);
  ExpectBalanced(two, 12, {"a", "c"});
  EXPECT_EQ(Moved(three, two), 4);  // b's four, nothing else
  for (const auto& [s, m] : three) {
    if (m != "b") {
      EXPECT_EQ(two.at(s), m) << s;
    }
  }
}

TEST(ShardAssignmentTest, AJoiningMemberTakesOnlyWhatBalanceNeeds) {
  const ShardAssignment two = AssignShards(12, {"a", "b"}, {});
  const ShardAssignment three = AssignShards(12, {"a", "b", "c"}, two);
  ExpectBalanced(three, 12, {"a", "b", "c"});
  EXPECT_EQ(Moved(two, three), 4);  // exactly c's share
  EXPECT_EQ(Counts(three).at("c"), 4);
}

TEST(ShardAssignmentTest, RandomHistoriesStayBalancedAndMoveLittle) {
  std::mt19937 rng(7);
  std::vector<std::string> pool = {"m0", "m1", "m2", "m3", "m4", "m5"};
  for (int shards : {1, 5, 16, 33}) {
    std::vector<std::string> members = {"m0", "m1"};
    ShardAssignment a = AssignShards(shards, members, {});
    for (int step = 0; step < 40; ++step) {
      std::vector<std::string> next = members;
      if ((rng() % 2 == 0 && next.size() > 1) || next.size() == pool.size()) {
        next.erase(next.begin() + static_cast<long>(rng() % next.size()));
      } else {
        for (const auto& m : pool) {
          if (std::find(next.begin(), next.end(), m) == next.end()) {
            next.push_back(m);
            break;
          }
        }
      }
      const ShardAssignment b = AssignShards(shards, next, a);
      ExpectBalanced(b, shards, next);
      // A shard whose owner is still live and not over the new share stays.
      const size_t ceil_share = (static_cast<size_t>(shards) + next.size() - 1) / next.size();
      EXPECT_LE(Moved(a, b), shards) << "step " << step;
      int stayed_possible = 0;
      std::map<std::string, int> seen;
      for (const auto& [s, m] : a) {
        if (std::find(next.begin(), next.end(), m) != next.end() &&
            static_cast<size_t>(++seen[m]) <= ceil_share - 1) {
          ++stayed_possible;
          EXPECT_EQ(b.at(s), m) << "shard " << s << " moved needlessly at step " << step;
        }
      }
      (void)stayed_possible;
      a = b;
      members = next;
    }
  }
}

TEST(ShardAssignmentTest, TextRoundTripsAndRefusesMalformedLines) {
  const ShardAssignment a = AssignShards(5, {"worker-1", "worker-2"}, {});
  auto back = DecodeAssignment(EncodeAssignment(a), 5);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, a);
  for (const std::string bad : {"x=a\n", "5=a\n", "-1=a\n", "0=\n", "=a\n", "0=a\n0=b\n", "0a\n"}) {
    auto r = DecodeAssignment(bad, 5);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << bad;
    EXPECT_NE(r.status().message().find("shard assignment line"), std::string::npos);
  }
}

TEST(ShardStandbysTest, StandbysAreOtherMembersSpreadEvenlyAndSticky) {
  const std::vector<std::string> members = {"a", "b", "c"};
  const ShardAssignment owners = AssignShards(6, members, {});
  const ShardStandbys standbys = AssignStandbys(6, members, owners, {}, 1);
  ASSERT_EQ(standbys.size(), 6u);
  std::map<std::string, int> load;
  for (const auto& [s, list] : standbys) {
    ASSERT_EQ(list.size(), 1u) << s;
    EXPECT_NE(list[0], owners.at(s)) << "shard " << s << "'s owner is its own standby";
    ++load[list[0]];
  }
  for (const auto& m : members) EXPECT_EQ(load[m], 2) << m;
  // As many as asked when there are members enough, never the owner, never twice.
  for (const auto& [s, list] : AssignStandbys(6, members, owners, {}, 5)) {
    ASSERT_EQ(list.size(), 2u) << s;
    EXPECT_NE(list[0], list[1]);
    EXPECT_NE(list[0], owners.at(s));
    EXPECT_NE(list[1], owners.at(s));
  }
  EXPECT_TRUE(AssignStandbys(6, members, owners, {}, 0).empty());
  EXPECT_TRUE(AssignStandbys(6, {"a"}, AssignShards(6, {"a"}, {}), {}, 1).empty());
  // A join keeps every standby that is still another member than the owner.
  const std::vector<std::string> four = {"a", "b", "c", "d"};
  const ShardAssignment owners4 = AssignShards(6, four, owners, standbys);
  const ShardStandbys after = AssignStandbys(6, four, owners4, standbys, 1);
  for (const auto& [s, list] : after) {
    if (standbys.at(s)[0] != owners4.at(s)) {
      EXPECT_EQ(list[0], standbys.at(s)[0]) << s;
    }
  }
}

TEST(ShardStandbysTest, ALostMembersShardsGoToTheirStandbys) {
  const std::vector<std::string> members = {"a", "b", "c"};
  const ShardAssignment owners = AssignShards(6, members, {});
  const ShardStandbys standbys = AssignStandbys(6, members, owners, {}, 1);
  const ShardAssignment without_b = AssignShards(6, {"a", "c"}, owners, standbys);
  ExpectBalanced(without_b, 6, {"a", "c"});
  for (const auto& [s, m] : owners) {
    if (m == "b" && standbys.at(s)[0] != "b") {
      EXPECT_EQ(without_b.at(s), standbys.at(s)[0]) << "shard " << s;
    }
  }
  // Three shards, three members: one dies; of the two left, the one with the extra slot is the
  // lost shard's standby, even though the other comes first by id.
  const ShardAssignment three = {{0, "a"}, {1, "b"}, {2, "c"}};
  const ShardAssignment after = AssignShards(3, {"a", "b"}, three, {{2, {"b"}}});
  EXPECT_EQ(after.at(2), "b");
  ExpectBalanced(after, 3, {"a", "b"});
  // A standby above its share does not take it: balance first.
  ShardStandbys all_to_a;
  for (int s = 0; s < 6; ++s) all_to_a[s] = {"a"};
  ExpectBalanced(AssignShards(6, {"a", "c"}, owners, all_to_a), 6, {"a", "c"});
}

TEST(ShardStandbysTest, TextRoundTripsAndRefusesMalformedLines) {
  const ShardStandbys s = {{0, {"w-1", "w-2"}}, {3, {"w.3"}}};
  auto back = DecodeStandbys(EncodeStandbys(s), 5);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, s);
  EXPECT_TRUE(DecodeStandbys("", 5)->empty());
  for (const std::string bad :
       {"x=a\n", "5=a\n", "0=\n", "0=a,\n", "0=,a\n", "0=a,,b\n", "0=a\n0=b\n"}) {
    auto r = DecodeStandbys(bad, 5);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << bad;
  }
}

}  // namespace
}  // namespace weir::cluster
