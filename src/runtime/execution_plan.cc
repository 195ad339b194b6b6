#include "runtime/execution_plan.h"

#include <cctype>
#include <map>
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
    plan.uids.push_back(uid);
    plan.parallelism.push_back(p);
  }

  std::vector<int> vertex_of(static_cast<size_t>(n), -1);
  for (int i = 0; i < n; ++i) {
    const OperatorSpec& op = graph.operators[static_cast<size_t>(i)];
    const size_t si = static_cast<size_t>(i);
    if (!op.is_source()) {
      const size_t in = static_cast<size_t>(op.input);
      const int in_vertex = vertex_of[in];
      auto& upstream = plan.vertices[static_cast<size_t>(in_vertex)];
      const bool chain = op.partitioning == Partitioning::kForward && consumers[in] == 1 &&
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

Status CheckRestoreCompatibility(const ExecutionPlan& plan, const std::string& job_name,
                                 const CheckpointMetadata& checkpoint, const std::string& source) {
  const std::string what =
      "checkpoint " + std::to_string(checkpoint.checkpoint_id) + " (" + source + ")";
  if (checkpoint.operators.empty()) {
    return Status::InvalidArgument(what +
                                   " records no job operators: it was not written by a "
                                   "weir job and cannot be resumed");
  }
  // Key groups cannot be re-split: a changed max parallelism is refused before any task starts.
  for (const auto& b : checkpoint.backends) {
    if (b.max_parallelism != plan.max_parallelism) {
      return Status::InvalidArgument(
          what + ": backend " + b.backend_id + " was checkpointed with max parallelism " +
          std::to_string(b.max_parallelism) + ", the job has " +
          std::to_string(plan.max_parallelism) + " (pipeline.max-parallelism must stay the same)");
    }
  }
  // Operators with state in the checkpoint.
  std::set<std::string> stateful;
  for (const auto& s : checkpoint.operator_states) stateful.insert(s.operator_uid);
  for (const auto& b : checkpoint.backends) {
    const size_t cut = b.backend_id.rfind('_');
    stateful.insert(b.backend_id.substr(0, cut));
  }
  std::map<std::string, int> job_parallelism;
  std::string job_uids;
  for (size_t i = 0; i < plan.uids.size(); ++i) {
    job_parallelism[plan.uids[i]] = plan.parallelism[i];
    job_uids += (job_uids.empty() ? "" : ", ") + plan.uids[i];
  }
  for (const auto& op : checkpoint.operators) {
    if (stateful.count(op.uid) == 0) continue;
    auto it = job_parallelism.find(op.uid);
    if (it == job_parallelism.end()) {
      return Status::InvalidArgument(what + " holds state of operator '" + op.uid +
                                     "', which job '" + job_name +
                                     "' does not have (its operators: " + job_uids + ")");
    }
    if (it->second != op.parallelism) {
      return Status::InvalidArgument(
          what + ": operator '" + op.uid + "' ran with parallelism " +
          std::to_string(op.parallelism) + ", the job gives it " + std::to_string(it->second) +
          " (changing a stateful operator's parallelism is not supported yet)");
    }
  }
  return Status::OK();
}

}  // namespace weir
