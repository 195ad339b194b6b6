// Restore assignment: which of a checkpoint's state each subtask of the resuming job restores,
// whatever parallelism each operator ran with. Keyed state goes by key-group range (a subtask
// restores every backend handle of its operator that shares key groups with its own range);
// operator state is redistributed (snapshot/restore/operator_state_redistribution.h). Pure
// functions, tested without threads.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_metadata.h"
#include "runtime/execution_plan.h"
#include "snapshot/restore/operator_state_redistribution.h"

namespace weir {

struct RestoreAssignment {
  // By uid, for the job's operators that have operator state in the checkpoint: each subtask's.
  std::map<std::string, std::vector<RestoredOperatorState>> operator_states;
  // By uid, for the job's keyed operators: the checkpoint's backend handles.
  std::map<std::string, std::vector<KeyedStateHandle>> keyed_handles;

  // Null when the checkpoint holds no operator state of `uid`.
  const RestoredOperatorState* OperatorState(const std::string& uid, int subtask) const;
  // The handles of `uid` that share key groups with `range` (none: the operator is new).
  std::vector<KeyedStateHandle> KeyedHandles(const std::string& uid,
                                             const KeyGroupRange& range) const;
};

// Whether `checkpoint` (`source` names it in messages) can be restored into `plan`, checked
// before any task starts: the max parallelism is unchanged; every operator with state in the
// checkpoint exists in the job (keyed state into a keyed operator), unless
// `allow_non_restored_state`, which skips the state of the operators the job no longer has; an
// operator with opaque operator state keeps its parallelism.
Status CheckRestoreCompatibility(const ExecutionPlan& plan, const std::string& job_name,
                                 const CheckpointMetadata& checkpoint, const std::string& source,
                                 bool allow_non_restored_state);

// The assignment for `plan`; refuses a checkpoint whose handles of an operator do not cover
// every key group exactly once, or whose operator state cannot be redistributed.
Result<RestoreAssignment> AssignRestoredState(const ExecutionPlan& plan,
                                              const CheckpointMetadata& checkpoint,
                                              const std::string& source);

}  // namespace weir
