#include "snapshot/restore/operator_state_redistribution.h"

#include <algorithm>
#include <map>

namespace weir {
namespace {

// The handles by subtask, checked: each subtask at most once and within the old parallelism.
Result<std::vector<const OperatorStateHandle*>> BySubtask(
    const std::string& uid, const std::vector<const OperatorStateHandle*>& handles,
    int old_parallelism) {
  std::vector<const OperatorStateHandle*> by_subtask(static_cast<size_t>(old_parallelism));
  for (const OperatorStateHandle* h : handles) {
    if (h->subtask < 0 || h->subtask >= old_parallelism) {
      return Status::Corruption("operator '" + uid + "' has operator state of subtask " +
                                std::to_string(h->subtask) + " but ran with parallelism " +
                                std::to_string(old_parallelism));
    }
    auto& slot = by_subtask[static_cast<size_t>(h->subtask)];
    if (slot != nullptr) {
      return Status::Corruption("operator '" + uid + "' has operator state of subtask " +
                                std::to_string(h->subtask) + " twice");
    }
    slot = h;
  }
  return by_subtask;
}

}  // namespace

Result<std::vector<RestoredOperatorState>> RedistributeOperatorState(
    const std::string& operator_uid, const std::vector<const OperatorStateHandle*>& handles,
    int old_parallelism, int new_parallelism) {
  WEIR_ASSIGN_OR_RETURN(auto by_subtask, BySubtask(operator_uid, handles, old_parallelism));
  std::vector<RestoredOperatorState> out(static_cast<size_t>(new_parallelism));
  const bool same = old_parallelism == new_parallelism;
  // Every list the operator stored, in the order of first appearance, with all its entries.
  std::vector<OperatorStateList> merged;
  std::map<std::string, size_t> index;  // name -> position in merged
  for (const OperatorStateHandle* h : by_subtask) {
    if (h == nullptr) continue;
    if (h->opaque && !same) {
      return Status::InvalidArgument(
          "operator '" + operator_uid + "' ran with parallelism " +
          std::to_string(old_parallelism) +
          " and keeps opaque operator state (the bytes its "
          "SnapshotState returns), which cannot be redistributed to parallelism " +
          std::to_string(new_parallelism) +
          "; keep its parallelism, or keep its state in "
          "list state (OperatorContext::operator_state())");
    }
    for (const auto& list : h->lists) {
      auto [at, added] = index.emplace(list.name, merged.size());
      if (added) merged.push_back({list.name, list.mode, {}});
      auto it = merged.begin() + static_cast<std::ptrdiff_t>(at->second);
      if (it->mode != list.mode) {
        return Status::Corruption("operator '" + operator_uid + "' stored operator-state list '" +
                                  list.name + "' both split-distributed and union");
      }
      it->entries.insert(it->entries.end(), list.entries.begin(), list.entries.end());
    }
  }
  if (same) {
    // Split lists and opaque state stay where they were; union lists go whole to every subtask.
    for (size_t s = 0; s < by_subtask.size(); ++s) {
      if (by_subtask[s] != nullptr) out[s].opaque = by_subtask[s]->opaque;
      for (const auto& list : merged) {
        if (list.mode == OperatorStateMode::kUnion) {
          out[s].lists.push_back(list);
          continue;
        }
        out[s].lists.push_back({list.name, list.mode, {}});
      }
      // Its own split lists' entries (a name appears once per subtask).
      if (by_subtask[s] == nullptr) continue;
      for (const auto& l : by_subtask[s]->lists) {
        if (l.mode == OperatorStateMode::kSplit) {
          out[s].lists[index.at(l.name)].entries = l.entries;
        }
      }
    }
    return out;
  }
  const auto p = static_cast<size_t>(new_parallelism);
  for (const auto& list : merged) {
    if (list.mode == OperatorStateMode::kUnion) {
      for (auto& subtask : out) subtask.lists.push_back(list);
      continue;
    }
    const size_t n = list.entries.size();
    size_t next = 0;
    for (size_t s = 0; s < p; ++s) {
      const size_t take = n / p + (s < n % p ? 1 : 0);
      OperatorStateList chunk{list.name, list.mode, {}};
      chunk.entries.assign(list.entries.begin() + static_cast<std::ptrdiff_t>(next),
                           list.entries.begin() + static_cast<std::ptrdiff_t>(next + take));
      next += take;
      out[s].lists.push_back(std::move(chunk));
    }
  }
  return out;
}

}  // namespace weir
