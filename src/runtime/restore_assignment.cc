#include "runtime/restore_assignment.h"

#include <algorithm>
#include <map>
#include <set>

namespace weir {
namespace {

std::string Describe(const CheckpointMetadata& checkpoint, const std::string& source) {
  return "checkpoint " + std::to_string(checkpoint.checkpoint_id) + " (" + source + ")";
}

// The operators of the checkpoint with state of each kind.
struct StatefulOperators {
  std::set<std::string> keyed;
  std::set<std::string> operator_state;
  std::set<std::string> opaque;  // with opaque operator state
};

StatefulOperators FindStateful(const CheckpointMetadata& checkpoint) {
  StatefulOperators s;
  for (const auto& b : checkpoint.backends) {
    s.keyed.insert(ExecutionPlan::OperatorOfBackend(b.backend_id));
  }
  for (const auto& o : checkpoint.operator_states) {
    s.operator_state.insert(o.operator_uid);
    if (o.opaque.has_value()) s.opaque.insert(o.operator_uid);
  }
  return s;
}

int IndexOf(const ExecutionPlan& plan, const std::string& uid) {
  auto it = std::find(plan.uids.begin(), plan.uids.end(), uid);
  return it == plan.uids.end() ? -1 : static_cast<int>(it - plan.uids.begin());
}

// The checkpoint's operators by uid (a crafted file may list very many: no linear search each).
std::map<std::string, const OperatorInfo*> OperatorsByUid(const CheckpointMetadata& checkpoint) {
  std::map<std::string, const OperatorInfo*> out;
  for (const auto& o : checkpoint.operators) out.emplace(o.uid, &o);
  return out;
}

const OperatorInfo* Find(const std::map<std::string, const OperatorInfo*>& operators,
                         const std::string& uid) {
  auto it = operators.find(uid);
  return it == operators.end() ? nullptr : it->second;
}

// The handles of one operator must tile its key groups: each key group in exactly one handle.
Status CheckCoverage(const std::string& what, const std::string& uid,
                     std::vector<KeyedStateHandle>& handles, int max_parallelism) {
  std::sort(handles.begin(), handles.end(), [](const auto& a, const auto& b) {
    return a.key_group_range.start < b.key_group_range.start;
  });
  int next = 0;
  for (const auto& h : handles) {
    if (h.key_group_range.start != next) {
      return Status::Corruption(
          what + ": the keyed state of operator '" + uid + "' " +
          (h.key_group_range.start < next
               ? "holds key group " + std::to_string(h.key_group_range.start) + " twice"
               : "lacks key groups " + std::to_string(next) + " to " +
                     std::to_string(h.key_group_range.start - 1)) +
          " (backend " + h.backend_id + ")");
    }
    next = h.key_group_range.end + 1;
  }
  if (next != max_parallelism) {
    return Status::Corruption(what + ": the keyed state of operator '" + uid +
                              "' lacks key groups " + std::to_string(next) + " to " +
                              std::to_string(max_parallelism - 1));
  }
  return Status::OK();
}

}  // namespace

const RestoredOperatorState* RestoreAssignment::OperatorState(const std::string& uid,
                                                              int subtask) const {
  auto it = operator_states.find(uid);
  if (it == operator_states.end() || subtask >= static_cast<int>(it->second.size())) {
    return nullptr;
  }
  return &it->second[static_cast<size_t>(subtask)];
}

std::vector<KeyedStateHandle> RestoreAssignment::KeyedHandles(const std::string& uid,
                                                              const KeyGroupRange& range) const {
  std::vector<KeyedStateHandle> out;
  auto it = keyed_handles.find(uid);
  if (it == keyed_handles.end()) return out;
  for (const auto& h : it->second) {
    if (!h.key_group_range.Intersect(range).empty()) out.push_back(h);
  }
  return out;
}

Status CheckRestoreCompatibility(const ExecutionPlan& plan, const std::string& job_name,
                                 const CheckpointMetadata& checkpoint, const std::string& source,
                                 bool allow_non_restored_state) {
  const std::string what = Describe(checkpoint, source);
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
  const StatefulOperators stateful = FindStateful(checkpoint);
  std::set<std::string> all = stateful.keyed;
  all.insert(stateful.operator_state.begin(), stateful.operator_state.end());
  std::string job_uids;
  for (const auto& uid : plan.uids) job_uids += (job_uids.empty() ? "" : ", ") + uid;
  std::vector<std::string> unclaimed;  // state the job has no place for
  const auto operators = OperatorsByUid(checkpoint);
  for (const std::string& uid : all) {
    const OperatorInfo* info = Find(operators, uid);
    if (info == nullptr) {
      return Status::Corruption(what + " holds state of operator '" + uid +
                                "' but does not record the operator (its parallelism)");
    }
    const int index = IndexOf(plan, uid);
    if (index < 0) {
      unclaimed.push_back("'" + uid + "'");
      continue;
    }
    if (stateful.keyed.count(uid) != 0 && !plan.keyed[static_cast<size_t>(index)]) {
      unclaimed.push_back("'" + uid + "' (its keyed state: the job's operator is not keyed)");
      continue;
    }
    const int parallelism = plan.parallelism[static_cast<size_t>(index)];
    if (parallelism == info->parallelism) continue;
    if (stateful.opaque.count(uid) != 0) {
      return Status::InvalidArgument(
          what + ": operator '" + uid + "' ran with parallelism " +
          std::to_string(info->parallelism) + ", the job gives it " + std::to_string(parallelism) +
          ", and it keeps opaque operator state (the bytes its SnapshotState returns), which "
          "cannot be redistributed; keep its parallelism, or keep its state in list state");
    }
  }
  if (!unclaimed.empty() && !allow_non_restored_state) {
    std::string names;
    for (size_t i = 0; i < unclaimed.size() && i < 10; ++i) {
      names += (names.empty() ? "" : ", ") + unclaimed[i];
    }
    if (unclaimed.size() > 10) names += " and " + std::to_string(unclaimed.size() - 10) + " more";
    return Status::InvalidArgument(
        what + " holds state of operator(s) " + names + " that job '" + job_name +
        "' has no place for (its operators: " + job_uids +
        "); pass --allow-non-restored-state (-n) to resume without that state");
  }
  return Status::OK();
}

Result<RestoreAssignment> AssignRestoredState(const ExecutionPlan& plan,
                                              const CheckpointMetadata& checkpoint,
                                              const std::string& source) {
  const std::string what = Describe(checkpoint, source);
  RestoreAssignment out;
  const auto operators = OperatorsByUid(checkpoint);
  for (size_t i = 0; i < plan.uids.size(); ++i) {
    const std::string& uid = plan.uids[i];
    const OperatorInfo* info = Find(operators, uid);
    if (info == nullptr) continue;  // a new operator: it starts empty
    std::vector<const OperatorStateHandle*> handles;
    for (const auto& s : checkpoint.operator_states) {
      if (s.operator_uid == uid) handles.push_back(&s);
    }
    if (!handles.empty()) {
      auto redistributed =
          RedistributeOperatorState(uid, handles, info->parallelism, plan.parallelism[i]);
      if (!redistributed.ok()) {
        return Status(redistributed.status().code(),
                      what + ": " + redistributed.status().message());
      }
      out.operator_states[uid] = std::move(redistributed).value();
    }
    if (!plan.keyed[i]) continue;
    std::vector<KeyedStateHandle> keyed;
    for (const auto& b : checkpoint.backends) {
      if (ExecutionPlan::OperatorOfBackend(b.backend_id) == uid) keyed.push_back(b);
    }
    if (keyed.empty()) continue;
    WEIR_RETURN_IF_ERROR(CheckCoverage(what, uid, keyed, plan.max_parallelism));
    out.keyed_handles[uid] = std::move(keyed);
  }
  return out;
}

}  // namespace weir
