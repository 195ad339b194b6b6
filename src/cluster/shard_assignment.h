// Which process owns which shard: the leader's balanced, sticky assignment (Kafka Streams'
// sticky task assignor in spirit). A job's shards are 0..shards-1; members are the live processes
// (by member id). The new assignment keeps every shard with its previous owner while that owner
// is live and not above its fair share; the shards of members that left, and those over the
// share, go to the members with the fewest. Every member ends with floor or ceil of
// shards/members, and a member that joins takes only what balance needs.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "weir/status.h"

namespace weir::cluster {

// shard -> member id
using ShardAssignment = std::map<int, std::string>;
// shard -> the members that keep a standby copy of it (never its owner), in preference order
using ShardStandbys = std::map<int, std::vector<std::string>>;

// `previous` may name members that are gone and shards out of range: both are ignored.
// No members: an empty assignment. A shard whose owner is gone goes to one of its live
// `standbys` when that member is below its share (it holds most of the shard's state already),
// else as above.
ShardAssignment AssignShards(int shards, const std::vector<std::string>& members,
                             const ShardAssignment& previous, const ShardStandbys& standbys = {});

// Up to `replicas` standbys per shard (cluster.standby-replicas; fewer when there are not enough
// members besides the owner): the previous standbys that are live and do not own the shard stay,
// the rest go to the members with the fewest standby shards (ties: id order).
ShardStandbys AssignStandbys(int shards, const std::vector<std::string>& members,
                             const ShardAssignment& owners, const ShardStandbys& previous,
                             int replicas);

// The assignment as etcd stores it ("shard=member" lines, in shard order) and back; a malformed
// text (a crafted or damaged key) is an error naming the line.
std::string EncodeAssignment(const ShardAssignment& assignment);
Result<ShardAssignment> DecodeAssignment(std::string_view text, int shards);
// shard -> the checkpoint id a member's standby copy of it holds (its report in etcd)
using StandbyCopies = std::map<int, uint64_t>;
std::string EncodeStandbyCopies(const StandbyCopies& copies);
Result<StandbyCopies> DecodeStandbyCopies(std::string_view text, int shards);

// The standbys as etcd stores them ("shard=member,member" lines) and back.
std::string EncodeStandbys(const ShardStandbys& standbys);
Result<ShardStandbys> DecodeStandbys(std::string_view text, int shards);

}  // namespace weir::cluster
