// StandbyKeeper: a worker's standby side (cluster.standby-replicas). For each shard the leader
// made this worker a standby of, it keeps a copy of the shard's latest checkpoint up to date, one
// shard at a time, on a thread of its own (the copying itself is the worker's callback:
// standby_copies.h). A shard this worker is about to run is released first: its copy stops, and
// nothing touches its local files any more while the run uses them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "cluster/shard_registry.h"

namespace weir::cluster {

class StandbyKeeper {
 public:
  // Brings the standby copy of `shard` up to `checkpoint`; stops with Aborted once `cancelled`.
  using KeepCopy = std::function<Status(int shard, const ShardCheckpoint& checkpoint,
                                        const std::atomic<bool>& cancelled)>;
  StandbyKeeper(std::string member, KeepCopy keep);
  ~StandbyKeeper();  // cancels the copy in progress and joins the thread
  StandbyKeeper(const StandbyKeeper&) = delete;
  StandbyKeeper& operator=(const StandbyKeeper&) = delete;

  // The shards to keep copies of now, with each one's latest checkpoint: a newer checkpoint than
  // the one kept is copied next (a failed copy is tried again only for a newer checkpoint);
  // shards left out are released.
  void Update(const std::map<int, ShardCheckpoint>& wanted);
  // Stops the work on `shard` (cancelling a copy in progress) and returns once none runs.
  void Release(int shard);
  void ReleaseAll();
  // The checkpoint id each shard's copy holds.
  std::map<int, uint64_t> kept() const;

 private:
  void Loop();
  void ReleaseLocked(int shard, std::unique_lock<std::mutex>& lock);

  const std::string member_;
  const KeepCopy keep_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<int, ShardCheckpoint> pending_;  // the next copy per shard
  std::map<int, uint64_t> kept_;
  std::map<int, uint64_t> failed_;  // the checkpoint whose copy failed, per shard
  std::optional<int> current_;      // the shard being copied
  std::atomic<bool> cancel_current_{false};
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace weir::cluster
