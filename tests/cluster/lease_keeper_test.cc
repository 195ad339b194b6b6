// LeaseKeeper against a real etcd: it keeps the lease (and its keys) alive well past the TTL,
// revokes it on Stop, and reports the loss when etcd stops answering for longer than the TTL —
// the paused-process case a zombie owner must notice.
#include "cluster/lease_keeper.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "testing/etcd_server.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace weir::cluster {
namespace {

TEST(LeaseKeeperTest, KeepsTheLeaseAliveAndRevokesItOnStop) {
  testing::TempDir tmp;
  testing::EtcdServer server(tmp.Sub("etcd"));
  ASSERT_TRUE(server.Start().ok());
  auto etcd = EtcdClient::Create(server.url());
  ASSERT_TRUE(etcd.ok());
  LeaseKeeper keeper(**etcd, std::chrono::seconds(1));
  ASSERT_TRUE(keeper.Start().ok());
  ASSERT_TRUE((*etcd)->Put("/member", "me", keeper.lease()).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // 2.5 TTLs
  EXPECT_FALSE(keeper.lost());
  EXPECT_TRUE((*etcd)->Get("/member")->has_value());
  keeper.Stop();
  EXPECT_FALSE((*etcd)->Get("/member")->has_value());  // revoked: gone at once
}

TEST(LeaseKeeperTest, ReportsTheLossWhenEtcdStopsAnswering) {
  testing::TempDir tmp;
  testing::EtcdServer server(tmp.Sub("etcd"));
  ASSERT_TRUE(server.Start().ok());
  EtcdClient::Options options;
  options.request_timeout = std::chrono::milliseconds(300);
  auto etcd = EtcdClient::Create(server.url(), options);
  ASSERT_TRUE(etcd.ok());
  LeaseKeeper keeper(**etcd, std::chrono::seconds(1));
  std::atomic<int> lost_calls{0};
  ASSERT_TRUE(keeper.Start([&] { ++lost_calls; }).ok());
  ASSERT_TRUE((*etcd)->Put("/member", "me", keeper.lease()).ok());
  server.Pause();
  EXPECT_TRUE(testing::WaitFor([&] { return keeper.lost(); }, std::chrono::seconds(10)));
  server.Resume();
  EXPECT_EQ(lost_calls.load(), 1);
  keeper.Stop();  // no revoke of a lost lease, no hang
  // And the lease does expire on the server: its key goes away.
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        auto kv = (*etcd)->Get("/member");
        return kv.ok() && !kv->has_value();
      },
      std::chrono::seconds(10)));
}

}  // namespace
}  // namespace weir::cluster
