// The operator state a subtask keeps: lists by name and mode, restored entries handed out, and
// what a checkpoint stores of lists the operator did not ask for again.
#include "runtime/operator_state_store.h"

#include <gtest/gtest.h>

namespace weir {
namespace {

std::vector<OperatorStateList> Restored() {
  return {{"splits", OperatorStateMode::kSplit, {"a", "b"}},
          {"known", OperatorStateMode::kUnion, {"x", "y"}}};
}

TEST(OperatorStateStoreTest, RestoredListsAreHandedOutAndReplaced) {
  TaskOperatorStateStore store("src", true, Restored(), /*first_subtask=*/true);
  EXPECT_TRUE(store.is_restored());
  auto splits = store.GetListState("splits");
  ASSERT_TRUE(splits.ok());
  EXPECT_EQ(**splits, (std::vector<std::string>{"a", "b"}));
  (*splits)->assign({"c"});
  auto fresh = store.GetUnionListState("new");
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE((*fresh)->empty());
  (*fresh)->push_back("n");
  // The entries handed out earlier stay valid after more lists were asked for.
  EXPECT_EQ(**splits, (std::vector<std::string>{"c"}));
  const auto lists = store.Lists();
  ASSERT_EQ(lists.size(), 3u);
  EXPECT_EQ(lists[0].entries, (std::vector<std::string>{"c"}));
  EXPECT_EQ(lists[1].entries, (std::vector<std::string>{"x", "y"}));  // kept, not asked for
  EXPECT_EQ(lists[2].mode, OperatorStateMode::kUnion);
}

TEST(OperatorStateStoreTest, AListAskedForInTheOtherModeIsRefused) {
  TaskOperatorStateStore store("src", true, Restored());
  auto wrong = store.GetUnionListState("splits");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(wrong.status().message().find("'splits' is a split-distributed list, asked for as a "
                                          "union list"),
            std::string::npos)
      << wrong.status().message();
  EXPECT_FALSE(store.GetListState("known").ok());
}

// A restored union list nobody asked for is stored by subtask 0 only: every subtask holds all of
// it, so storing it on each would multiply it at every restore.
TEST(OperatorStateStoreTest, AnUnclaimedUnionListIsStoredOnce) {
  TaskOperatorStateStore first("src", true, Restored(), /*first_subtask=*/true);
  TaskOperatorStateStore other("src", true, Restored(), /*first_subtask=*/false);
  EXPECT_EQ(first.Lists().size(), 2u);
  ASSERT_EQ(other.Lists().size(), 1u);
  EXPECT_EQ(other.Lists()[0].name, "splits");
  // Asked for, it is the operator's to fill: every subtask stores what it put there.
  ASSERT_TRUE(other.GetUnionListState("known").ok());
  EXPECT_EQ(other.Lists().size(), 2u);
}

TEST(OperatorStateStoreTest, AFreshStoreIsNotRestored) {
  TaskOperatorStateStore store("src", false, {});
  EXPECT_FALSE(store.is_restored());
  EXPECT_TRUE(store.Lists().empty());
}

}  // namespace
}  // namespace weir
