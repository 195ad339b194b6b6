// Operator state redistribution: which operator state each subtask of a restored operator gets,
// from what its subtasks stored at the parallelism it ran with (weir/operator_state.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "snapshot/state_handle.h"
#include "weir/status.h"

namespace weir {

// What one subtask restores: every list the operator stored (possibly with no entries for this
// subtask), and opaque bytes only at an unchanged parallelism.
struct RestoredOperatorState {
  std::optional<std::string> opaque;
  std::vector<OperatorStateList> lists;
};

// `handles` are one operator's handles in a checkpoint, where it ran at `old_parallelism`; the
// result has `new_parallelism` elements. Union lists go whole to every subtask (also at the same
// parallelism, as in Flink). At the same parallelism subtask s gets its own split lists and
// opaque state back. Otherwise split lists are concatenated in subtask order and cut into
// contiguous chunks whose sizes differ by at most one (the first subtasks get the larger ones),
// and opaque state is refused, naming the operator. Handles that disagree
// (a subtask out of range or twice, a list stored as split by one and union by another) are
// refused as corrupt.
Result<std::vector<RestoredOperatorState>> RedistributeOperatorState(
    const std::string& operator_uid, const std::vector<const OperatorStateHandle*>& handles,
    int old_parallelism, int new_parallelism);

}  // namespace weir
