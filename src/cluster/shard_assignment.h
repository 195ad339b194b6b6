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

// `previous` may name members that are gone and shards out of range: both are ignored.
// No members: an empty assignment.
ShardAssignment AssignShards(int shards, const std::vector<std::string>& members,
                             const ShardAssignment& previous);

// The assignment as etcd stores it ("shard=member" lines, in shard order) and back; a malformed
// text (a crafted or damaged key) is an error naming the line.
std::string EncodeAssignment(const ShardAssignment& assignment);
Result<ShardAssignment> DecodeAssignment(std::string_view text, int shards);

}  // namespace weir::cluster
