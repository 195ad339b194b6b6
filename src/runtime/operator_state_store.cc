#include "runtime/operator_state_store.h"

#include <algorithm>

namespace weir {

TaskOperatorStateStore::TaskOperatorStateStore(std::string operator_uid, bool restored,
                                               std::vector<OperatorStateList> lists,
                                               bool first_subtask)
    : operator_uid_(std::move(operator_uid)), restored_(restored), first_subtask_(first_subtask) {
  for (auto& list : lists) lists_.push_back({std::move(list), false});
}

Result<std::vector<std::string>*> TaskOperatorStateStore::GetListState(std::string_view name) {
  return Get(name, OperatorStateMode::kSplit);
}

Result<std::vector<std::string>*> TaskOperatorStateStore::GetUnionListState(std::string_view name) {
  return Get(name, OperatorStateMode::kUnion);
}

Result<std::vector<std::string>*> TaskOperatorStateStore::Get(std::string_view name,
                                                              OperatorStateMode mode) {
  auto it = std::find_if(lists_.begin(), lists_.end(),
                         [&](const List& l) { return l.list.name == name; });
  if (it == lists_.end()) {
    lists_.push_back({{std::string(name), mode, {}}, true});
    return &lists_.back().list.entries;
  }
  if (it->list.mode != mode) {
    const auto mode_name = [](OperatorStateMode m) {
      return m == OperatorStateMode::kUnion ? "a union list" : "a split-distributed list";
    };
    return Status::FailedPrecondition("operator '" + operator_uid_ + "': operator state '" +
                                      std::string(name) + "' is " + mode_name(it->list.mode) +
                                      ", asked for as " + mode_name(mode));
  }
  it->asked = true;
  return &it->list.entries;
}

std::vector<OperatorStateList> TaskOperatorStateStore::Lists() const {
  std::vector<OperatorStateList> out;
  for (const auto& l : lists_) {
    if (!l.asked && l.list.mode == OperatorStateMode::kUnion && !first_subtask_) continue;
    out.push_back(l.list);
  }
  return out;
}

}  // namespace weir
