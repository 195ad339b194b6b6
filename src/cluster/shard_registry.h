// ShardRegistry: who owns each shard of a scaled-out job, and the latest checkpoint of each, in
// etcd (docs/design.md, "Scale-out"). Keys under /weir/<job>/shards/<n>/:
//   owner       the owning member's id, attached to its lease (gone when the lease expires)
//   epoch       raised by one at every claim; never deleted
//   checkpoint  {"epoch", "id", "path"} of the shard's latest completed checkpoint
//   finished    the epoch whose owner saw the shard's input end (then no one claims it)
//
// A claim succeeds only while nobody owns the shard, and raises the epoch in the same
// transaction; a checkpoint is recorded only while the recorder's epoch is still the shard's —
// the fence that keeps a paused or partitioned former owner from completing a checkpoint of a
// shard it lost. Values read back are checked: a crafted or damaged key is one Corruption error
// naming it, and a checkpoint path must lie inside the shard's own checkpoint directory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cluster/etcd_client.h"

namespace weir::cluster {

struct ShardCheckpoint {
  int64_t epoch = 0;  // the owner's epoch that completed it
  uint64_t id = 0;
  std::string path;  // its _metadata
};

struct ShardState {
  int shard = 0;
  std::optional<std::string> owner;  // nullopt: free
  int64_t epoch = 0;                 // 0: never claimed
  std::optional<ShardCheckpoint> checkpoint;
  bool finished = false;  // its input ended and its final checkpoint is recorded
};

class ShardRegistry {
 public:
  // `job`: the job's name ([A-Za-z0-9._-], 1 to 100 characters); `checkpoint_root`: where the
  // job's shards keep their checkpoints (<dir>/<job>/shards); every recorded path must be under
  // <checkpoint_root>/<n>/.
  static Result<ShardRegistry> Create(EtcdClient& etcd, const std::string& job,
                                      std::string checkpoint_root);

  // Claims shard `n` for `member` (its lease) if nobody else owns it (it may own it already
  // under that lease: a run of it that ended without a release). The shard's state after the
  // claim (its new epoch, its latest checkpoint), or nullopt if someone else owns it (then
  // `*owned_elsewhere`, if given, is set: a claim may succeed soon) or it is finished.
  Result<std::optional<ShardState>> TryClaim(int shard, const std::string& member, int64_t lease,
                                             bool* owned_elsewhere = nullptr);
  // Records checkpoint `id` at `path` if `epoch` is still the shard's; FailedPrecondition if a
  // newer owner claimed it since (the caller has lost the shard).
  Status RecordCheckpoint(int shard, int64_t epoch, uint64_t id, const std::string& path);
  // OK while `epoch` is still shard `n`'s; FailedPrecondition once another process claimed it.
  Status CheckEpoch(int shard, int64_t epoch);
  // Marks shard `n` finished (its bounded input ended, its final checkpoint recorded) if `epoch`
  // is still its own: no one claims it again. FailedPrecondition if it was lost.
  Status MarkFinished(int shard, int64_t epoch);
  // Gives shard `n` up if `member` still owns it at `epoch` (a no-op otherwise).
  Status Release(int shard, const std::string& member, int64_t epoch);
  Result<ShardState> Get(int shard);
  Result<std::vector<ShardState>> List(int shards);

  std::string ShardPrefix(int shard) const;
  // <checkpoint_root>/<n>: every checkpoint of shard n lies below it.
  std::string ShardDir(int shard) const;

 private:
  ShardRegistry(EtcdClient& etcd, std::string prefix, std::string checkpoint_root)
      : etcd_(&etcd), prefix_(std::move(prefix)), checkpoint_root_(std::move(checkpoint_root)) {}
  Result<std::optional<ShardCheckpoint>> DecodeCheckpoint(int shard, const std::string& key,
                                                          const std::string& value) const;

  EtcdClient* etcd_;
  std::string prefix_;  // /weir/<job>/shards/
  std::string checkpoint_root_;
};

// Whether `name` may name a job in etcd keys and directories.
bool ValidJobName(const std::string& name);

}  // namespace weir::cluster
