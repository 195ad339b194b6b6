// CheckStateCompatibility: whether the states a job's keyed operators register fit the states a
// checkpoint holds (same kind, same serializers), found before any task starts.
//
// States are registered in an operator's Open, so the only faithful way to learn them without
// running the job is to open one instance of each stateful keyed operator against a probe backend
// that records each registration and holds no data (every read or write through it is refused).
// The instance is closed and dropped afterwards; nothing is emitted. What the probe cannot see (a
// state registered later than Open, an Open that stops at a refused access) is still checked by
// the backend when the task registers it, which fails the job the same way, just later.
#pragma once

#include <string>

#include "checkpoint/checkpoint_metadata.h"
#include "runtime/execution_plan.h"
#include "weir/config.h"
#include "weir/job_graph.h"

namespace weir {

// InvalidArgument naming the operator, the state, and both kinds and serializers on the first
// mismatch; `source` names the checkpoint in messages.
Status CheckStateCompatibility(const JobGraph& graph, const ExecutionPlan& plan,
                               const Configuration& config, const std::string& job_id,
                               const CheckpointMetadata& checkpoint, const std::string& source);

}  // namespace weir
