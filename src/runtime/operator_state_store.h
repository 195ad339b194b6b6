// TaskOperatorStateStore: one operator's list state on one subtask (weir/operator_state.h),
// filled with what the subtask restored; the task stores its lists in every checkpoint. The
// subtask's thread only.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "snapshot/state_handle.h"
#include "weir/operator_state.h"

namespace weir {

class TaskOperatorStateStore final : public OperatorStateStore {
 public:
  // `first_subtask`: whether this is subtask 0 (see Lists()).
  TaskOperatorStateStore(std::string operator_uid, bool restored,
                         std::vector<OperatorStateList> lists, bool first_subtask = true);

  bool is_restored() const override { return restored_; }
  Result<std::vector<std::string>*> GetListState(std::string_view name) override;
  Result<std::vector<std::string>*> GetUnionListState(std::string_view name) override;

  // What a checkpoint stores: every list asked for, and the restored lists the operator did not
  // ask for as they were (a restored union list that nobody asked for only on subtask 0: every
  // subtask holds all of it, and storing it P times would multiply it at each restore).
  std::vector<OperatorStateList> Lists() const;
  bool empty() const { return lists_.empty(); }

 private:
  Result<std::vector<std::string>*> Get(std::string_view name, OperatorStateMode mode);

  struct List {
    OperatorStateList list;
    bool asked = false;
  };
  std::string operator_uid_;
  bool restored_;
  bool first_subtask_;
  std::deque<List> lists_;  // a deque: the entries handed out stay where they are
};

}  // namespace weir
