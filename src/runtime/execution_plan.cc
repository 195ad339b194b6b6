#include "runtime/execution_plan.h"

#include <cctype>
#include <set>

#include "io/owned_directory.h"

namespace weir {
namespace {

std::string DerivedUid(int index, const std::string& name) {
  std::string uid = std::to_string(index) + "-";
  for (char c : name) uid.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '-');
  return uid.substr(0, 100);  // within the identifier grammar's 128 with its backend ids
}

}  // namespace

std::vector<OperatorInfo> ExecutionPlan::OperatorInfos() const {
  std::vector<OperatorInfo> infos;
  for (size_t i = 0; i < uids.size(); ++i) infos.push_back({uids[i], parallelism[i]});
  return infos;
}

std::string ExecutionPlan::TaskId(int vertex, int subtask) const {
  const auto& v = vertices[static_cast<size_t>(vertex)];
  return uids[static_cast<size_t>(v.operators.front())] + "#" + std::to_string(subtask);
}

std::string ExecutionPlan::BackendId(const std::string& uid, int subtask) {
  return uid + "_" + std::to_string(subtask);
}

std::string ExecutionPlan::OperatorOfBackend(const std::string& backend_id) {
  return backend_id.substr(0, backend_id.rfind('_'));
}

Result<ExecutionPlan> PlanExecution(const JobGraph& graph, int default_parallelism,
                                    int max_parallelism) {
  const auto bad = [&](const std::string& what) {
    return Status::InvalidArgument("job '" + graph.name + "': " + what);
  };
  if (graph.operators.empty()) return bad("it has no operators");
  ExecutionPlan plan;
  plan.max_parallelism = max_parallelism;
  const int n = static_cast<int>(graph.operators.size());
  std::vector<int> consumers(static_cast<size_t>(n), 0);
  std::set<std::string> seen_uids;
  for (int i = 0; i < n; ++i) {
    const OperatorSpec& op = graph.operators[static_cast<size_t>(i)];
    const std::string uid = op.uid.empty() ? DerivedUid(i, op.name) : op.uid;
    // A uid names local directories and checkpoint files (its backends' ids): the identifier
    // grammar that every reader of a checkpoint checks, for the uid and for its longest backend id.
    if (Status s = ValidateIdentifier("operator uid", uid); !s.ok()) return bad(s.message());
    if (!seen_uids.insert(uid).second) return bad("two operators have the uid '" + uid + "'");
    if (op.is_source() ? !op.new_source : (!op.new_operator || op.input >= i)) {
      return bad("operator '" + uid + "' is incomplete");
    }
    if (op.keyed() && !op.key_of) return bad("keyed operator '" + uid + "' has no key");
    if (op.input2 >= 0) {
      if (op.is_source() || op.input2 >= i || op.input2 == op.input) {
        return bad("operator '" + uid + "' has a second input that is not another, earlier one");
      }
      if (op.keyed() != (op.partitioning2 == Partitioning::kKeyed) || (op.keyed() && !op.key_of2)) {
        return bad("operator '" + uid + "' must have both inputs keyed or neither");
      }
    }
    const int p = op.parallelism > 0 ? op.parallelism : default_parallelism;
    if (Status s = ValidateIdentifier("backend id", ExecutionPlan::BackendId(uid, p - 1));
        !s.ok()) {
      return bad(s.message());
    }
    if (op.keyed() && p > max_parallelism) {
      return bad("keyed operator '" + uid + "' has parallelism " + std::to_string(p) +
                 ", above pipeline.max-parallelism " + std::to_string(max_parallelism));
    }
    if (!op.is_source()) ++consumers[static_cast<size_t>(op.input)];
    if (op.input2 >= 0) ++consumers[static_cast<size_t>(op.input2)];
    plan.uids.push_back(uid);
    plan.parallelism.push_back(p);
    plan.keyed.push_back(op.keyed());
  }

  std::vector<int> vertex_of(static_cast<size_t>(n), -1);
  for (int i = 0; i < n; ++i) {
    const OperatorSpec& op = graph.operators[static_cast<size_t>(i)];
    const size_t si = static_cast<size_t>(i);
    if (!op.is_source()) {
      const size_t in = static_cast<size_t>(op.input);
      const int in_vertex = vertex_of[in];
      auto& upstream = plan.vertices[static_cast<size_t>(in_vertex)];
      const bool chain = op.partitioning == Partitioning::kForward && op.side_output.empty() &&
                         op.input2 < 0 && consumers[in] == 1 &&
                         plan.parallelism[in] == plan.parallelism[si] &&
                         upstream.operators.back() == op.input;
      if (chain) {
        upstream.operators.push_back(i);
        vertex_of[si] = in_vertex;
        continue;
      }
      TaskVertex v;
      v.operators = {i};
      v.parallelism = plan.parallelism[si];
      v.input_vertex = in_vertex;
      v.input_partitioning = op.keyed() ? Partitioning::kKeyed : Partitioning::kRebalance;
      upstream.consumers.push_back(static_cast<int>(plan.vertices.size()));
      if (op.input2 >= 0) {
        const int in_vertex2 = vertex_of[static_cast<size_t>(op.input2)];
        auto& upstream2 = plan.vertices[static_cast<size_t>(in_vertex2)];
        if (in_vertex2 == in_vertex || upstream2.operators.back() != op.input2) {
          return bad("operator '" + plan.uids[si] +
                     "': both inputs come from one task vertex, or the second from inside a chain");
        }
        v.input_vertex2 = in_vertex2;
        v.input_partitioning2 = op.keyed() ? Partitioning::kKeyed : Partitioning::kRebalance;
        upstream2.consumers.push_back(static_cast<int>(plan.vertices.size()));
      }
      vertex_of[si] = static_cast<int>(plan.vertices.size());
      plan.vertices.push_back(std::move(v));
      continue;
    }
    TaskVertex v;
    v.operators = {i};
    v.parallelism = plan.parallelism[si];
    vertex_of[si] = static_cast<int>(plan.vertices.size());
    plan.vertices.push_back(std::move(v));
  }
  return plan;
}

}  // namespace weir
