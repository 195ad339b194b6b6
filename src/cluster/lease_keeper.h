// LeaseKeeper: holds an etcd lease for this process — granted at Start, renewed on its own thread
// every third of its TTL, revoked at Stop (so that a process that leaves gracefully hands its
// shards over at once instead of after the TTL). When a renewal finds the lease expired, or
// renewals keep failing until the TTL has passed since the last success, the lease is lost: the
// keeper says so (lost() and the callback) and stops renewing; everything this process holds
// under the lease must be treated as gone (its shards may already have a new owner).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "cluster/etcd_client.h"

namespace weir::cluster {

class LeaseKeeper {
 public:
  LeaseKeeper(EtcdClient& etcd, std::chrono::seconds ttl) : etcd_(etcd), ttl_(ttl) {}
  ~LeaseKeeper() { Stop(); }
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // Grants the lease and starts renewing it; `on_lost` runs (on the keeper's thread) once if it
  // is lost. With `adopt` (a lease this process held before it restarted), that lease is
  // renewed and kept if it is still alive; a new one is granted otherwise.
  Status Start(std::function<void()> on_lost = nullptr, int64_t adopt = 0);
  // Whether Start took the lease back (adopt) rather than granting a new one.
  bool adopted() const { return adopted_; }
  // Stops renewing and revokes the lease (best effort: an unreachable etcd lets it expire).
  void Stop();
  // Stops renewing and leaves the lease to expire (what a crashed process does; tests).
  void Abandon();

  int64_t lease() const { return lease_; }
  bool lost() const { return lost_; }

 private:
  void Run();
  void StopThread();

  EtcdClient& etcd_;
  const std::chrono::seconds ttl_;
  int64_t lease_ = 0;
  bool adopted_ = false;
  std::function<void()> on_lost_;
  std::atomic<bool> lost_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace weir::cluster
