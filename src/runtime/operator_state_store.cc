#include "runtime/operator_state_store.h"

#include <algorithm>

namespace weir {

TaskOperatorStateStore::TaskOperatorStateStore(std::string operator_uid, bool restored,
                                               std::vector<OperatorStateList> lists)
    : operator_uid_(std::move(operator_uid)),
      restored_(restored),
      lists_(std::make_move_iterator(lists.begin()), std::make_move_iterator(lists.end())) {}

Result<std::vector<std::string>*> TaskOperatorStateStore::GetListState(std::string_view name) {
  return Get(name, OperatorStateMode::kSplit);
}

Result<std::vector<std::string>*> TaskOperatorStateStore::GetUnionListState(std::string_view name) {
  return Get(name, OperatorStateMode::kUnion);
}

Result<std::vector<std::string>*> TaskOperatorStateStore::Get(std::string_view name,
                                                              OperatorStateMode mode) {
  auto it = std::find_if(lists_.begin(), lists_.end(),
                         [&](const OperatorStateList& l) { return l.name == name; });
  if (it == lists_.end()) {
    lists_.push_back({std::string(name), mode, {}});
    return &lists_.back().entries;
  }
  if (it->mode != mode) {
    const auto mode_name = [](OperatorStateMode m) {
      return m == OperatorStateMode::kUnion ? "a union list" : "a split-distributed list";
    };
    return Status::FailedPrecondition("operator '" + operator_uid_ + "': operator state '" +
                                      std::string(name) + "' is " + mode_name(it->mode) +
                                      ", asked for as " + mode_name(mode));
  }
  return &it->entries;
}

std::vector<OperatorStateList> TaskOperatorStateStore::Lists() const {
  return {lists_.begin(), lists_.end()};
}

}  // namespace weir
