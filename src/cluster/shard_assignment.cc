#include "cluster/shard_assignment.h"

#include <algorithm>
#include <charconv>
#include <set>

namespace weir::cluster {
namespace {

// The first of shard `s`'s standbys that is live and below its share, if any.
const std::string* StandbyBelowShare(int s, const ShardStandbys& standbys,
                                     const std::set<std::string>& live,
                                     std::map<std::string, size_t>& count,
                                     std::map<std::string, size_t>& cap) {
  const auto it = standbys.find(s);
  if (it == standbys.end()) return nullptr;
  for (const std::string& m : it->second) {
    const auto member = live.find(m);
    if (member != live.end() && count[m] < cap[m]) return &*member;
  }
  return nullptr;
}

// "shard=" and what follows on each line of `text`, checked: a shard from 0 to shards-1 named
// once, a non-empty value. `what` names the text in errors.
Result<std::map<int, std::string>> DecodeShardLines(std::string_view text, int shards,
                                                    const std::string& what,
                                                    const std::string& value_form) {
  std::map<int, std::string> out;
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
      return Status::Corruption(what + " line " + std::to_string(line_no) + " '" +
                                std::string(line.substr(0, 100)) + "' is not shard=" + value_form +
                                " with a shard from 0 to " + std::to_string(shards - 1) +
                                " named once");
    }
    out[shard] = std::string(line.substr(eq + 1));
  }
  return out;
}

}  // namespace

ShardAssignment AssignShards(int shards, const std::vector<std::string>& members,
                             const ShardAssignment& previous, const ShardStandbys& standbys) {
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
  // most before, so that the fewest shards move; among equals, those that are standbys of the
  // most shards without a live owner, so that those can go where their state is.
  const size_t base = static_cast<size_t>(shards) / live.size();
  const size_t extra = static_cast<size_t>(shards) % live.size();
  std::map<std::string, size_t> standby_of_orphans;
  for (int s : unassigned) {
    if (const auto it = standbys.find(s); it != standbys.end()) {
      for (const std::string& m : it->second) ++standby_of_orphans[m];
    }
  }
  std::vector<std::string> order(live.begin(), live.end());
  std::stable_sort(order.begin(), order.end(), [&](const std::string& a, const std::string& b) {
    if (kept[a].size() != kept[b].size()) return kept[a].size() > kept[b].size();
    return standby_of_orphans[a] > standby_of_orphans[b];
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
  // The rest, lowest shard first: to a live standby of the shard below its share, else to the
  // member furthest below its share (ties: id order). The shares add up to `shards`, so there is
  // always room.
  std::sort(unassigned.begin(), unassigned.end());
  for (int s : unassigned) {
    const std::string* best = StandbyBelowShare(s, standbys, live, count, cap);
    if (best == nullptr) {
      for (const std::string& m : live) {
        if (count[m] >= cap[m]) continue;
        if (best == nullptr || count[m] < count[*best]) best = &m;
      }
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
  return DecodeShardLines(text, shards, "shard assignment", "member");
}

ShardStandbys AssignStandbys(int shards, const std::vector<std::string>& members,
                             const ShardAssignment& owners, const ShardStandbys& previous,
                             int replicas) {
  ShardStandbys out;
  const std::set<std::string> live(members.begin(), members.end());
  if (replicas <= 0 || live.size() < 2) return out;
  std::map<std::string, size_t> load;  // standby shards per member
  for (const std::string& m : live) load[m] = 0;
  auto eligible = [&](int s, const std::string& m) {
    const auto owner = owners.find(s);
    const std::vector<std::string>& chosen = out[s];
    return live.count(m) > 0 && (owner == owners.end() || owner->second != m) &&
           std::find(chosen.begin(), chosen.end(), m) == chosen.end();
  };
  // Sticky first: a standby that stays keeps the copy it has.
  for (int s = 0; s < shards; ++s) {
    out[s];
    const auto it = previous.find(s);
    if (it == previous.end()) continue;
    for (const std::string& m : it->second) {
      if (out[s].size() < static_cast<size_t>(replicas) && eligible(s, m)) {
        out[s].push_back(m);
        ++load[m];
      }
    }
  }
  for (int s = 0; s < shards; ++s) {
    while (out[s].size() < static_cast<size_t>(replicas)) {
      const std::string* best = nullptr;
      for (const std::string& m : live) {
        if (eligible(s, m) && (best == nullptr || load[m] < load[*best])) best = &m;
      }
      if (best == nullptr) break;  // every other member is one already
      out[s].push_back(*best);
      ++load[*best];
    }
    if (out[s].empty()) out.erase(s);
  }
  return out;
}

std::string EncodeStandbyCopies(const StandbyCopies& copies) {
  std::string out;
  for (const auto& [shard, id] : copies) {
    out += std::to_string(shard) + "=" + std::to_string(id) + "\n";
  }
  return out;
}

Result<StandbyCopies> DecodeStandbyCopies(std::string_view text, int shards) {
  WEIR_ASSIGN_OR_RETURN(auto lines, DecodeShardLines(text, shards, "standby copies", "checkpoint"));
  StandbyCopies out;
  for (const auto& [shard, value] : lines) {
    uint64_t id = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), id);
    if (error != std::errc() || end != value.data() + value.size()) {
      return Status::Corruption("standby copies of shard " + std::to_string(shard) + ": '" +
                                value.substr(0, 100) + "' is not a checkpoint id");
    }
    out[shard] = id;
  }
  return out;
}

std::string EncodeStandbys(const ShardStandbys& standbys) {
  std::string out;
  for (const auto& [shard, members] : standbys) {
    if (members.empty()) continue;
    out += std::to_string(shard) + "=";
    for (size_t i = 0; i < members.size(); ++i) out += (i > 0 ? "," : "") + members[i];
    out += "\n";
  }
  return out;
}

Result<ShardStandbys> DecodeStandbys(std::string_view text, int shards) {
  WEIR_ASSIGN_OR_RETURN(auto lines,
                        DecodeShardLines(text, shards, "shard standbys", "member,member..."));
  ShardStandbys out;
  for (auto& [shard, value] : lines) {
    std::vector<std::string>& members = out[shard];
    size_t at = 0;
    while (at <= value.size()) {
      const size_t comma = std::min(value.find(',', at), value.size());
      const std::string member = value.substr(at, comma - at);
      if (member.empty()) {
        return Status::Corruption("shard standbys of shard " + std::to_string(shard) + " '" +
                                  value.substr(0, 100) + "' names an empty member");
      }
      members.push_back(member);
      at = comma + 1;
    }
  }
  return out;
}

}  // namespace weir::cluster
