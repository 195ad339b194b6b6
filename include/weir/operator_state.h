// Operator state: the state of an operator that is not keyed (a source's positions, a sink's
// pending output), kept as Flink keeps it: named lists of entries. The runtime stores each
// subtask's lists in every checkpoint and, when the operator restores at another parallelism,
// redistributes them by the list's mode:
//   split  the entries of all old subtasks, in subtask order, are cut into contiguous, even
//          chunks, one per new subtask (Flink's getListState)
//   union  every new subtask gets every entry of every old subtask (Flink's getUnionListState),
//          also when the parallelism did not change
// At the same parallelism subtask s gets back exactly the split lists subtask s stored.
//
// An operator reads its lists in Open (restored entries, or empty on a fresh start) and replaces
// their contents in SnapshotState; the runtime stores the lists as they are after SnapshotState.
// A list restored from the checkpoint is kept as it is if the operator never asks for it again.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "weir/status.h"

namespace weir {

enum class OperatorStateMode : uint8_t { kSplit = 0, kUnion = 1 };

class OperatorStateStore {
 public:
  virtual ~OperatorStateStore() = default;
  // Whether the job resumed from a checkpoint that holds operator state of this operator (a
  // subtask may be restored with no entries, when there were fewer entries than subtasks).
  virtual bool is_restored() const = 0;
  // The split-distributed list `name`. Fails if `name` is a union list.
  virtual Result<std::vector<std::string>*> GetListState(std::string_view name) = 0;
  // The union list `name`. Fails if `name` is a split-distributed list.
  virtual Result<std::vector<std::string>*> GetUnionListState(std::string_view name) = 0;
};

}  // namespace weir
