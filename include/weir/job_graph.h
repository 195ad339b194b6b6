// JobGraph: the dataflow a job runs, as the runtime sees it: operators with factories that make
// one instance per subtask, each reading the output of one upstream operator. Built by the typed
// JobBuilder (weir/job.h); a plain value.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "weir/stream_operator.h"

namespace weir {

// How records travel from an operator to the next one.
enum class Partitioning {
  kForward,    // subtask i to subtask i; chained into one task when the parallelism is equal
  kRebalance,  // round robin over the next operator's subtasks
  kKeyed,      // to the subtask that owns the record's key group
};

struct OperatorSpec {
  std::string name;
  // Stable id by which the operator's state is found on restore. Empty: derived from the
  // operator's place in the graph ("<index>-<name>"). [A-Za-z0-9._-]+.
  std::string uid;
  int parallelism = 0;  // 0: parallelism.default
  int input = -1;       // index of the upstream operator; -1 for a source
  // The side output of the upstream operator this one reads (Output::EmitToSide); empty: its
  // main output.
  std::string side_output;
  Partitioning partitioning = Partitioning::kForward;
  // kKeyed: the record's serialized key. The operator then runs with a keyed state backend.
  std::function<std::string(const Record&)> key_of;
  std::function<std::unique_ptr<SourceOperator>()> new_source;  // sources
  std::function<std::unique_ptr<StreamOperator>()> new_operator;
  // A second input (Union, Connect): its upstream operator (-1: none), how its records come
  // (kKeyed exactly when the first input is keyed) and, keyed, their key. Its records reach
  // StreamOperator::ProcessRecord2.
  int input2 = -1;
  Partitioning partitioning2 = Partitioning::kRebalance;
  std::function<std::string(const Record&)> key_of2;
  bool keyed() const { return partitioning == Partitioning::kKeyed; }
  bool is_source() const { return input < 0; }
};

struct JobGraph {
  std::string name;
  std::vector<OperatorSpec> operators;  // each one's input comes before it
};

}  // namespace weir
