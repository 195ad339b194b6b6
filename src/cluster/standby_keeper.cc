#include "cluster/standby_keeper.h"

#include <chrono>

#include "common/log.h"

namespace weir::cluster {

StandbyKeeper::StandbyKeeper(std::string member, KeepCopy keep)
    : member_(std::move(member)), keep_(std::move(keep)) {
  thread_ = std::thread([this] { Loop(); });
}

StandbyKeeper::~StandbyKeeper() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    pending_.clear();
    cancel_current_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void StandbyKeeper::Update(const std::map<int, ShardCheckpoint>& wanted) {
  std::unique_lock lock(mu_);
  std::vector<int> gone;
  for (const auto& [shard, id] : kept_) {
    if (wanted.count(shard) == 0) gone.push_back(shard);
  }
  for (const auto& [shard, checkpoint] : pending_) {
    if (wanted.count(shard) == 0) gone.push_back(shard);
  }
  if (current_ && wanted.count(*current_) == 0) gone.push_back(*current_);
  for (int shard : gone) ReleaseLocked(shard, lock);
  for (const auto& [shard, checkpoint] : wanted) {
    const auto kept = kept_.find(shard);
    if (kept != kept_.end() && kept->second >= checkpoint.id) continue;
    const auto failed = failed_.find(shard);
    if (failed != failed_.end() && failed->second >= checkpoint.id) continue;
    if (current_ == shard) continue;  // its copy in progress ends first; the next Update queues
    pending_[shard] = checkpoint;
  }
  cv_.notify_all();
}

void StandbyKeeper::Release(int shard) {
  std::unique_lock lock(mu_);
  ReleaseLocked(shard, lock);
}

void StandbyKeeper::ReleaseAll() {
  std::unique_lock lock(mu_);
  pending_.clear();
  kept_.clear();
  failed_.clear();
  if (current_) ReleaseLocked(*current_, lock);
}

void StandbyKeeper::ReleaseLocked(int shard, std::unique_lock<std::mutex>& lock) {
  pending_.erase(shard);
  kept_.erase(shard);
  failed_.erase(shard);
  if (current_ != shard) return;
  cancel_current_ = true;
  cv_.wait(lock, [&] { return current_ != shard; });
}

std::map<int, uint64_t> StandbyKeeper::kept() const {
  std::lock_guard lock(mu_);
  return kept_;
}

void StandbyKeeper::Loop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !pending_.empty(); });
    if (stop_) return;
    const int shard = pending_.begin()->first;
    const ShardCheckpoint checkpoint = pending_.begin()->second;
    pending_.erase(pending_.begin());
    current_ = shard;
    cancel_current_ = false;
    lock.unlock();
    const auto start = std::chrono::steady_clock::now();
    const Status s = keep_(shard, checkpoint, cancel_current_);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    lock.lock();
    const bool cancelled = cancel_current_.load();
    current_.reset();
    if (s.ok() && !cancelled) {
      // Logged once per shard: later copies follow every checkpoint.
      if (kept_.count(shard) == 0) {
        LogInfo("worker " + member_ + ": standby copy of shard " + std::to_string(shard) +
                " holds checkpoint " + std::to_string(checkpoint.id) + " (" + std::to_string(ms) +
                " ms); it follows the shard's checkpoints from now on");
      }
      kept_[shard] = checkpoint.id;
    } else if (!cancelled && s.code() != StatusCode::kAborted) {
      failed_[shard] = checkpoint.id;
      // NotFound: the checkpoint was subsumed (its files deleted) while it was copied, which is
      // common with large state and short intervals; the next one is copied, reusing what this
      // attempt fetched.
      if (s.code() != StatusCode::kNotFound) {
        LogWarn("worker " + member_ + ": standby copy of shard " + std::to_string(shard) +
                " at checkpoint " + std::to_string(checkpoint.id) + ": " + s.ToString() +
                " (a takeover here downloads what it lacks)");
      }
    }
    cv_.notify_all();
  }
}

}  // namespace weir::cluster
