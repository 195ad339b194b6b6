#include "cluster/lease_keeper.h"

#include "common/log.h"

namespace weir::cluster {

Status LeaseKeeper::Start(std::function<void()> on_lost, int64_t adopt) {
  if (thread_.joinable()) return Status::FailedPrecondition("the lease keeper already runs");
  adopted_ = false;
  if (adopt > 0) {
    // Expired or unknown: 0 (a new lease is granted below); etcd down: the error.
    WEIR_ASSIGN_OR_RETURN(int64_t ttl, etcd_.KeepAlive(adopt));
    adopted_ = ttl > 0;
  }
  if (adopted_) {
    lease_ = adopt;
  } else {
    WEIR_ASSIGN_OR_RETURN(lease_, etcd_.GrantLease(ttl_.count()));
  }
  on_lost_ = std::move(on_lost);
  lost_ = false;
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
  return Status::OK();
}

void LeaseKeeper::StopThread() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void LeaseKeeper::Abandon() {
  if (thread_.joinable()) StopThread();
}

void LeaseKeeper::Stop() {
  if (!thread_.joinable()) return;
  StopThread();
  if (!lost_) {
    if (Status s = etcd_.RevokeLease(lease_); !s.ok()) {
      LogWarn("could not revoke lease " + std::to_string(lease_) +
              " (it expires by itself): " + s.ToString());
    }
  }
}

void LeaseKeeper::Run() {
  using Clock = std::chrono::steady_clock;
  const auto period = std::max<std::chrono::milliseconds>(
      std::chrono::milliseconds(100),
      std::chrono::duration_cast<std::chrono::milliseconds>(ttl_) / 3);
  auto last_renewed = Clock::now();
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, period, [&] { return stopping_; })) {
    lock.unlock();
    Result<int64_t> ttl = etcd_.KeepAlive(lease_);
    const auto now = Clock::now();
    bool lost = false;
    if (ttl.ok() && *ttl > 0) {
      last_renewed = now;
    } else if (ttl.ok()) {
      LogWarn("lease " + std::to_string(lease_) + " expired");
      lost = true;
    } else if (now - last_renewed >= ttl_) {
      LogWarn("lease " + std::to_string(lease_) + " not renewed for " +
              std::to_string(ttl_.count()) + " s, taken as lost: " + ttl.status().ToString());
      lost = true;
    }
    if (lost) {
      lost_ = true;
      if (on_lost_) on_lost_();
      return;
    }
    lock.lock();
  }
}

}  // namespace weir::cluster
