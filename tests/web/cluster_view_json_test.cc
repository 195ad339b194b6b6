// The cluster view's JSON (what a worker serves at /cluster): every worker with its role and
// assigned shards, every shard with its owner, assignment, epoch, state and latest checkpoint.
#include <gtest/gtest.h>

#include "web/cluster_rest_server.h"

namespace weir::web {
namespace {

TEST(ClusterViewJsonTest, ShowsWorkersShardsOwnersAndCheckpoints) {
  cluster::ClusterView view;
  view.shards = 3;
  view.checkpoint_root = "/ckpt/agg/shards";
  view.members = {"w1", "w2"};
  view.leader = "w2";
  view.assignment = {{0, "w1"}, {1, "w2"}, {2, "w1"}};
  view.shards_state.resize(3);
  view.shards_state[0] = {
      0, "w1", 4, cluster::ShardCheckpoint{4, 17, "/ckpt/agg/shards/0/j/chk-17/_metadata"}, false};
  view.shards_state[1] = {1, std::nullopt, 2, std::nullopt, false};
  view.shards_state[2] = {2, std::nullopt, 1, cluster::ShardCheckpoint{1, 9, "/p/_metadata"}, true};

  const nlohmann::json j = ClusterViewJson("agg", view);
  EXPECT_EQ(j["job"], "agg");
  EXPECT_EQ(j["shards"], 3);
  EXPECT_EQ(j["checkpoint-root"], "/ckpt/agg/shards");
  EXPECT_EQ(j["leader"], "w2");
  ASSERT_EQ(j["workers"].size(), 2u);
  EXPECT_EQ(j["workers"][0]["id"], "w1");
  EXPECT_EQ(j["workers"][0]["leader"], false);
  EXPECT_EQ(j["workers"][0]["shards"], nlohmann::json({0, 2}));
  EXPECT_EQ(j["workers"][1]["leader"], true);
  EXPECT_EQ(j["workers"][1]["shards"], nlohmann::json({1}));

  ASSERT_EQ(j["shard-states"].size(), 3u);
  const auto& s0 = j["shard-states"][0];
  EXPECT_EQ(s0["owner"], "w1");
  EXPECT_EQ(s0["assigned-to"], "w1");
  EXPECT_EQ(s0["epoch"], 4);
  EXPECT_EQ(s0["finished"], false);
  EXPECT_EQ(s0["latest-checkpoint"]["id"], 17);
  EXPECT_EQ(s0["latest-checkpoint"]["path"], "/ckpt/agg/shards/0/j/chk-17/_metadata");
  // Assigned to w2, not claimed yet: no owner, no checkpoint.
  const auto& s1 = j["shard-states"][1];
  EXPECT_TRUE(s1["owner"].is_null());
  EXPECT_EQ(s1["assigned-to"], "w2");
  EXPECT_TRUE(s1["latest-checkpoint"].is_null());
  EXPECT_EQ(j["shard-states"][2]["finished"], true);
}

TEST(ClusterViewJsonTest, AViewWithoutLeaderOrAssignmentHasNulls) {
  cluster::ClusterView view;
  view.shards = 1;
  view.shards_state.push_back({0, std::nullopt, 0, std::nullopt, false});
  const nlohmann::json j = ClusterViewJson("agg", view);
  EXPECT_TRUE(j["leader"].is_null());
  EXPECT_TRUE(j["workers"].empty());
  EXPECT_TRUE(j["shard-states"][0]["assigned-to"].is_null());
}

}  // namespace
}  // namespace weir::web
