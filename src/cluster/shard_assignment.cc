#include "cluster/shard_assignment.h"

#include <algorithm>
#include <charconv>
#include <set>

namespace weir::cluster {

ShardAssignment AssignShards(int shards, const std::vector<std::string>& members,
                             const ShardAssignment& previous) {
  ShardAssignment out;
  if (members.empty() || shards <= 0) return out;
  const std::set<std::string> live(members.begin(), members.end());
  std::map<std::string, std::vector<int>> kept;  // live member -> its previous shards, in order
  for (const std::string& m : live) kept[m];
  std::vector<int> unassigned;
  for (int s = 0; s < shards; ++s) {
    const auto it = previous.find(s);
    if (it != previous.end() && live.count(it->second) > 0) {
      kept[it->second].push_back(s);
    } else {
      unassigned.push_back(s);
    }
  }
  // Fair shares: floor(shards / members), one more for `extra` of them — those that held the
  // most before, so that the fewest shards move.
  const size_t base = static_cast<size_t>(shards) / live.size();
  const size_t extra = static_cast<size_t>(shards) % live.size();
  std::vector<std::string> order(live.begin(), live.end());
  std::stable_sort(order.begin(), order.end(), [&](const std::string& a, const std::string& b) {
    return kept[a].size() > kept[b].size();
  });
  std::map<std::string, size_t> cap;
  std::map<std::string, size_t> count;
  for (size_t i = 0; i < order.size(); ++i) {
    const std::string& m = order[i];
    cap[m] = base + (i < extra ? 1 : 0);
    const std::vector<int>& mine = kept[m];
    for (size_t j = 0; j < mine.size(); ++j) {
      if (j < cap[m]) {
        out[mine[j]] = m;
        ++count[m];
      } else {
        unassigned.push_back(mine[j]);
      }
    }
  }
  // The rest, lowest shard first, each to the member furthest below its share (ties: id order).
  // The shares add up to `shards`, so there is always room.
  std::sort(unassigned.begin(), unassigned.end());
  for (int s : unassigned) {
    const std::string* best = nullptr;
    for (const std::string& m : live) {
      if (count[m] >= cap[m]) continue;
      if (best == nullptr || count[m] < count[*best]) best = &m;
    }
    out[s] = *best;
    ++count[*best];
  }
  return out;
}

std::string EncodeAssignment(const ShardAssignment& assignment) {
  std::string out;
  for (const auto& [shard, member] : assignment) {
    out += std::to_string(shard) + "=" + member + "\n";
  }
  return out;
}

Result<ShardAssignment> DecodeAssignment(std::string_view text, int shards) {
  ShardAssignment out;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    const size_t eq = line.find('=');
    int shard = -1;
    bool ok = eq != std::string_view::npos && eq > 0 && eq + 1 < line.size();
    if (ok) {
      const auto [end, error] = std::from_chars(line.data(), line.data() + eq, shard);
      ok = error == std::errc() && end == line.data() + eq && shard >= 0 && shard < shards &&
           out.count(shard) == 0;
    }
    if (!ok) {
      return Status::Corruption("shard assignment line " + std::to_string(line_no) + " '" +
                                std::string(line.substr(0, 100)) + "' is not shard=member with " +
                                "a shard from 0 to " + std::to_string(shards - 1) + " named once");
    }
    out[shard] = std::string(line.substr(eq + 1));
  }
  return out;
}

}  // namespace weir::cluster
