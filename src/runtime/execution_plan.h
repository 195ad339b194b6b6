// ExecutionPlan: how a JobGraph runs. Each operator gets its uid and parallelism; operators
// connected forward with equal parallelism (and no other consumer in between) are chained into
// one task vertex, whose subtasks each run the whole chain on one thread. Pure functions, tested
// without threads.
#pragma once

#include <string>
#include <vector>

#include "checkpoint/checkpoint_metadata.h"
#include "weir/job_graph.h"

namespace weir {

struct TaskVertex {
  std::vector<int> operators;  // graph indices, head first
  int parallelism = 1;
  int input_vertex = -1;                                       // -1: the head is a source
  Partitioning input_partitioning = Partitioning::kRebalance;  // kRebalance or kKeyed
  // The head's second input (OperatorSpec::input2), if any: its channels follow the first's.
  int input_vertex2 = -1;
  Partitioning input_partitioning2 = Partitioning::kRebalance;
  std::vector<int> consumers;  // vertices reading this vertex's tail
  bool keyed() const { return input_partitioning == Partitioning::kKeyed && input_vertex >= 0; }
};

struct ExecutionPlan {
  std::vector<std::string> uids;     // per graph operator
  std::vector<int> parallelism;      // per graph operator
  std::vector<bool> keyed;           // per graph operator: it has a keyed state backend
  std::vector<TaskVertex> vertices;  // in graph order: inputs come first
  int max_parallelism = 128;
  std::vector<OperatorInfo> OperatorInfos() const;
  // "<head uid>#<subtask>": what the task acknowledges checkpoints as.
  std::string TaskId(int vertex, int subtask) const;
  // "<uid>_<subtask>": names a keyed operator's backend and its files in checkpoint storage.
  static std::string BackendId(const std::string& uid, int subtask);
  // The uid in a backend id.
  static std::string OperatorOfBackend(const std::string& backend_id);
};

Result<ExecutionPlan> PlanExecution(const JobGraph& graph, int default_parallelism,
                                    int max_parallelism);

}  // namespace weir
