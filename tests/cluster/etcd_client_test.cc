// EtcdClient against a real single-member etcd (started per test on loopback, stopped by PID):
// keys and prefixes (binary keys too), compare-and-swap that refuses a stale writer, leases that
// keep their keys only while kept alive, and one clear error for a bad endpoint, a server that
// is down or one that stops answering; data survives a restart of etcd.
#include "cluster/etcd_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "testing/etcd_server.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace weir::cluster {
namespace {

class EtcdClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<testing::EtcdServer>(tmp_.Sub("etcd"));
    ASSERT_TRUE(server_->Start().ok());
    auto client = EtcdClient::Create(server_->url());
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(client).value();
  }
  testing::TempDir tmp_;
  std::unique_ptr<testing::EtcdServer> server_;
  std::unique_ptr<EtcdClient> client_;
};

TEST_F(EtcdClientTest, KeysAndPrefixes) {
  auto r1 = client_->Put("/weir/job/a", "1");
  ASSERT_TRUE(r1.ok()) << r1.status().ToString();
  auto r2 = client_->Put("/weir/job/b", std::string("\0\xff", 2));
  ASSERT_TRUE(r2.ok());
  EXPECT_GT(*r2, *r1);
  ASSERT_TRUE(client_->Put("/weir/jobs", "not under /weir/job/").ok());
  const std::string binary_prefix("/weir/\xff\xff", 8);
  ASSERT_TRUE(client_->Put(binary_prefix + "x", "under a prefix ending in 0xff").ok());

  auto a = client_->Get("/weir/job/a");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ((*a)->value, "1");
  EXPECT_EQ((*a)->mod_revision, *r1);
  EXPECT_EQ((*a)->version, 1);
  auto b = client_->Get("/weir/job/b");
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_EQ((*b)->value, std::string("\0\xff", 2));
  auto missing = client_->Get("/weir/job/none");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  auto under = client_->GetPrefix("/weir/job/");
  ASSERT_TRUE(under.ok());
  ASSERT_EQ(under->size(), 2u);
  EXPECT_EQ((*under)[0].key, "/weir/job/a");
  EXPECT_EQ((*under)[1].key, "/weir/job/b");
  auto binary = client_->GetPrefix(binary_prefix);
  ASSERT_TRUE(binary.ok());
  ASSERT_EQ(binary->size(), 1u);

  auto deleted = client_->DeletePrefix("/weir/job/");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 2);
  auto rest = client_->GetPrefix("/weir/");
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->size(), 2u);  // /weir/jobs and the binary one
  auto one = client_->Delete("/weir/jobs");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, 1);
}

TEST_F(EtcdClientTest, CompareAndSwapRefusesAStaleWriter) {
  // Created only if absent: the second creator loses.
  auto created = client_->PutIfModRevision("/epoch", "1", 0);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_TRUE(*created);
  auto again = client_->PutIfModRevision("/epoch", "x", 0);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  auto seen = client_->Get("/epoch");
  ASSERT_TRUE(seen.ok() && seen->has_value());
  const int64_t rev = (*seen)->mod_revision;
  // Two writers read the same revision: the first wins, the second (stale) is refused.
  auto first = client_->PutIfModRevision("/epoch", "2", rev);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(*first);
  auto stale = client_->PutIfModRevision("/epoch", "3", rev);
  ASSERT_TRUE(stale.ok());
  EXPECT_FALSE(*stale);
  auto now = client_->Get("/epoch");
  ASSERT_TRUE(now.ok() && now->has_value());
  EXPECT_EQ((*now)->value, "2");

  // A transaction's failure branch runs when a comparison fails; several writes are atomic.
  auto txn = client_->Txn({Compare::Value("/epoch", "9")}, {Operation::Put("/won", "yes")},
                          {Operation::Put("/lost", "yes"), Operation::Delete("/epoch")});
  ASSERT_TRUE(txn.ok()) << txn.status().ToString();
  EXPECT_FALSE(*txn);
  EXPECT_FALSE(client_->Get("/won")->has_value());
  EXPECT_TRUE(client_->Get("/lost")->has_value());
  EXPECT_FALSE(client_->Get("/epoch")->has_value());
  auto version = client_->Txn({Compare::Version("/lost", 1)}, {Operation::Put("/won", "yes")});
  ASSERT_TRUE(version.ok());
  EXPECT_TRUE(*version);
}

TEST_F(EtcdClientTest, LeasesKeepTheirKeysOnlyWhileKeptAlive) {
  EXPECT_EQ(client_->GrantLease(0).status().code(), StatusCode::kInvalidArgument);
  auto kept = client_->GrantLease(2);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  auto dropped = client_->GrantLease(1);
  ASSERT_TRUE(dropped.ok());
  ASSERT_TRUE(client_->Put("/alive/kept", "k", *kept).ok());
  ASSERT_TRUE(client_->Put("/alive/dropped", "d", *dropped).ok());
  auto kv = client_->Get("/alive/kept");
  ASSERT_TRUE(kv.ok() && kv->has_value());
  EXPECT_EQ((*kv)->lease, *kept);
  // Keep one alive for 3.5 s, past both TTLs: the other lease's key goes away.
  for (int i = 0; i < 7; ++i) {
    auto ttl = client_->KeepAlive(*kept);
    ASSERT_TRUE(ttl.ok()) << ttl.status().ToString();
    EXPECT_GT(*ttl, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  EXPECT_TRUE(client_->Get("/alive/kept")->has_value());
  EXPECT_TRUE(testing::WaitFor([&] { return !client_->Get("/alive/dropped")->has_value(); },
                               std::chrono::seconds(10)));
  auto expired = client_->KeepAlive(*dropped);
  ASSERT_TRUE(expired.ok()) << expired.status().ToString();
  EXPECT_EQ(*expired, 0);
  // Revoking deletes the lease's keys at once; revoking an expired lease is no error.
  ASSERT_TRUE(client_->RevokeLease(*kept).ok());
  EXPECT_FALSE(client_->Get("/alive/kept")->has_value());
  EXPECT_TRUE(client_->RevokeLease(*dropped).ok());
  EXPECT_TRUE(client_->RevokeLease(*kept).ok());
}

TEST_F(EtcdClientTest, DataSurvivesARestartOfEtcd) {
  ASSERT_TRUE(client_->Put("/durable", "yes").ok());
  server_->Kill();
  auto down = client_->Get("/durable");
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.status().code(), StatusCode::kIOError);
  EXPECT_NE(down.status().message().find("etcd get"), std::string::npos)
      << down.status().ToString();
  EXPECT_NE(down.status().message().find(client_->endpoint()), std::string::npos);
  ASSERT_TRUE(server_->Start().ok());
  auto back = client_->Get("/durable");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_TRUE(back->has_value());
  EXPECT_EQ((*back)->value, "yes");
}

TEST_F(EtcdClientTest, AServerThatStopsAnsweringTimesOutWithAClearError) {
  EtcdClient::Options options;
  options.request_timeout = std::chrono::milliseconds(300);
  auto impatient = EtcdClient::Create(server_->url(), options);
  ASSERT_TRUE(impatient.ok());
  server_->Pause();
  const auto start = std::chrono::steady_clock::now();
  auto r = (*impatient)->Put("/k", "v");
  server_->Resume();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIOError);
  EXPECT_TRUE(r.status().retryable());
  EXPECT_NE(r.status().message().find("etcd put"), std::string::npos) << r.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE((*impatient)->Put("/k", "v").ok());
}

TEST(EtcdEndpointTest, MalformedEndpointsAreOneClearError) {
  for (const std::string bad : {"", "127.0.0.1:2379", "etcd://", "etcd://host", "etcd://:2379",
                                "etcd://host:0", "etcd://host:99999", "etcd://host:12ab",
                                "etcd://ho st:2379", "etcd://host:2379/path", "nats://host:4222"}) {
    auto c = EtcdClient::Create(bad);
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(c.status().message().find("etcd endpoint"), std::string::npos) << bad;
  }
  for (const std::string good :
       {"etcd://127.0.0.1:2379", "http://localhost:2379/", "etcd://etcd-0.example.com:12379"}) {
    EXPECT_TRUE(EtcdClient::Create(good).ok()) << good;
  }
}

TEST(EtcdBase64Test, RoundTripsEveryLength) {
  std::string bytes;
  for (int n = 0; n < 40; ++n) {
    const std::string text = Base64Encode(bytes);
    auto back = Base64Decode(text);
    ASSERT_TRUE(back.has_value()) << n;
    EXPECT_EQ(*back, bytes) << n;
    bytes.push_back(static_cast<char>(n * 37));
  }
  EXPECT_FALSE(Base64Decode("abc").has_value());
  EXPECT_FALSE(Base64Decode("a*c=").has_value());
}

}  // namespace
}  // namespace weir::cluster
