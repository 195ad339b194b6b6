// Shard ownership and the checkpoint fence in a real etcd: one claimant wins a free shard and
// raises its epoch; the owner records checkpoints; once its lease is gone another process
// claims the shard and the former owner (a zombie) can no longer record one; a graceful release
// frees the shard at once; crafted values and paths outside the shard's directory are refused.
#include "cluster/shard_registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "testing/etcd_server.h"
#include "testing/temp_dir.h"

namespace weir::cluster {
namespace {

class ShardRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<testing::EtcdServer>(tmp_.Sub("etcd"));
    ASSERT_TRUE(server_->Start().ok());
    auto etcd = EtcdClient::Create(server_->url());
    ASSERT_TRUE(etcd.ok());
    etcd_ = std::move(etcd).value();
    auto registry = ShardRegistry::Create(*etcd_, "orders", "/ckpt/orders/shards/");
    ASSERT_TRUE(registry.ok()) << registry.status().ToString();
    registry_.emplace(std::move(registry).value());
  }
  std::string Path(int shard, const std::string& rest) {
    return "/ckpt/orders/shards/" + std::to_string(shard) + "/" + rest;
  }
  testing::TempDir tmp_;
  std::unique_ptr<testing::EtcdServer> server_;
  std::unique_ptr<EtcdClient> etcd_;
  std::optional<ShardRegistry> registry_;
};

TEST_F(ShardRegistryTest, OneClaimantWinsAndTheFormerOwnerIsFencedAfterATakeover) {
  auto lease_a = etcd_->GrantLease(30);
  auto lease_b = etcd_->GrantLease(30);
  ASSERT_TRUE(lease_a.ok() && lease_b.ok());
  // Two processes race for the free shard: exactly one wins.
  std::atomic<int> wins{0};
  std::thread other([&] {
    auto r = registry_->TryClaim(3, "b", *lease_b);
    if (r.ok() && r->has_value()) ++wins;
  });
  auto a = registry_->TryClaim(3, "a", *lease_a);
  other.join();
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  if (a->has_value()) ++wins;
  ASSERT_EQ(wins.load(), 1);
  auto state = registry_->Get(3);
  ASSERT_TRUE(state.ok());
  ASSERT_TRUE(state->owner.has_value());
  EXPECT_EQ(state->epoch, 1);
  const std::string owner = *state->owner;
  const int64_t owner_lease = owner == "a" ? *lease_a : *lease_b;
  const std::string other_member = owner == "a" ? "b" : "a";
  const int64_t other_lease = owner == "a" ? *lease_b : *lease_a;

  ASSERT_TRUE(registry_->RecordCheckpoint(3, 1, 7, Path(3, "j1/chk-7/_metadata")).ok());
  // The owner's lease expires (revoked here): its owner key goes, the other claims at epoch 2
  // and finds the latest checkpoint.
  ASSERT_TRUE(etcd_->RevokeLease(owner_lease).ok());
  auto taken = registry_->TryClaim(3, other_member, other_lease);
  ASSERT_TRUE(taken.ok());
  ASSERT_TRUE(taken->has_value());
  EXPECT_EQ((*taken)->epoch, 2);
  ASSERT_TRUE((*taken)->checkpoint.has_value());
  EXPECT_EQ((*taken)->checkpoint->id, 7u);
  EXPECT_EQ((*taken)->checkpoint->path, Path(3, "j1/chk-7/_metadata"));
  // The former owner wakes up and tries to complete a checkpoint: refused.
  Status zombie = registry_->RecordCheckpoint(3, 1, 8, Path(3, "j1/chk-8/_metadata"));
  EXPECT_EQ(zombie.code(), StatusCode::kFailedPrecondition) << zombie.ToString();
  EXPECT_NE(zombie.message().find("no longer at epoch 1"), std::string::npos);
  EXPECT_EQ(registry_->CheckEpoch(3, 1).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(registry_->CheckEpoch(3, 2).ok());
  EXPECT_EQ(registry_->Get(3)->checkpoint->id, 7u);
  // Nor can it release what it no longer owns.
  ASSERT_TRUE(registry_->Release(3, owner, 1).ok());
  EXPECT_EQ(registry_->Get(3)->owner, other_member);
  // The new owner records; a second claim of an owned shard gets nothing.
  ASSERT_TRUE(registry_->RecordCheckpoint(3, 2, 9, Path(3, "j2/chk-9/_metadata")).ok());
  auto again = registry_->TryClaim(3, "c", other_lease);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
}

TEST_F(ShardRegistryTest, AGracefulReleaseFreesTheShardAtOnce) {
  auto lease = etcd_->GrantLease(30);
  ASSERT_TRUE(lease.ok());
  auto claimed = registry_->TryClaim(0, "a", *lease);
  ASSERT_TRUE(claimed.ok() && claimed->has_value());
  ASSERT_TRUE(registry_->RecordCheckpoint(0, 1, 4, Path(0, "j/chk-4/_metadata")).ok());
  // A run of a's ended without releasing (etcd was away): a claims it again under the same
  // lease, at the next epoch, which fences that run.
  auto again = registry_->TryClaim(0, "a", *lease);
  ASSERT_TRUE(again.ok() && again->has_value()) << again.status().ToString();
  EXPECT_EQ((*again)->epoch, 2);
  EXPECT_EQ(registry_->RecordCheckpoint(0, 1, 5, Path(0, "j/chk-5/_metadata")).code(),
            StatusCode::kFailedPrecondition);
  auto other_lease = etcd_->GrantLease(30);
  ASSERT_TRUE(other_lease.ok());
  auto not_under_another_lease = registry_->TryClaim(0, "a", *other_lease);
  ASSERT_TRUE(not_under_another_lease.ok());
  EXPECT_FALSE(not_under_another_lease->has_value());
  ASSERT_TRUE(registry_->Release(0, "a", 2).ok());
  auto next = registry_->TryClaim(0, "b", *lease);
  ASSERT_TRUE(next.ok() && next->has_value());
  EXPECT_EQ((*next)->epoch, 3);
  EXPECT_EQ((*next)->checkpoint->id, 4u);
  auto all = registry_->List(2);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].owner, "b");
  EXPECT_FALSE((*all)[1].owner.has_value());
  EXPECT_EQ((*all)[1].epoch, 0);
}

TEST_F(ShardRegistryTest, CraftedValuesAndForeignPathsAreRefused) {
  // A path outside the shard's directory is never recorded ...
  for (const std::string bad : {"/etc/passwd", "/ckpt/orders/shards/1/../../x/_metadata",
                                "/ckpt/orders/shards/10/j/chk-1/_metadata"}) {
    Status s = registry_->RecordCheckpoint(1, 1, 1, bad);
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << bad;
  }
  // ... nor accepted when someone wrote it into etcd directly.
  ASSERT_TRUE(etcd_
                  ->Put("/weir/orders/shards/1/checkpoint",
                        R"({"epoch":1,"id":3,"path":"/ckpt/orders/shards/1/../2/chk-3/_metadata"})")
                  .ok());
  auto s = registry_->Get(1);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kCorruption);
  EXPECT_NE(s.status().message().find("/weir/orders/shards/1/checkpoint"), std::string::npos);
  ASSERT_TRUE(etcd_->Put("/weir/orders/shards/1/checkpoint", "not json").ok());
  EXPECT_EQ(registry_->Get(1).status().code(), StatusCode::kCorruption);
  ASSERT_TRUE(etcd_->Put("/weir/orders/shards/2/epoch", "-4").ok());
  EXPECT_EQ(registry_->Get(2).status().code(), StatusCode::kCorruption);
  // Job names become keys and directories: checked.
  for (const std::string& bad : {std::string(), std::string(".."), std::string("a/b"),
                                 std::string("a b"), std::string(101, 'x')}) {
    EXPECT_EQ(ShardRegistry::Create(*etcd_, bad, "/ckpt").status().code(),
              StatusCode::kInvalidArgument)
        << bad;
  }
}

}  // namespace
}  // namespace weir::cluster
