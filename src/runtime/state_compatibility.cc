#include "runtime/state_compatibility.h"

#include <exception>
#include <map>
#include <memory>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "runtime/operator_state_store.h"

namespace weir {
namespace {

Status ProbeRefusal() {
  return Status::FailedPrecondition(
      "keyed state holds no data while the job's state registrations are checked");
}

// A registered state of the probe: it has the registration's meta and refuses every access.
class ProbeState final : public RawKeyedState {
 public:
  explicit ProbeState(StateMetaInfo meta) : meta_(std::move(meta)) {}
  const StateMetaInfo& meta() const override { return meta_; }
  void SetCurrentNamespace(std::string_view) override {}
  Result<std::optional<std::string>> Get(std::string_view) override { return ProbeRefusal(); }
  Status Put(std::string_view, std::string_view) override { return ProbeRefusal(); }
  Status Append(std::string_view) override { return ProbeRefusal(); }
  Status Delete(std::string_view) override { return ProbeRefusal(); }
  Status Clear() override { return ProbeRefusal(); }
  Status ForEachRow(const std::function<bool(std::string_view, std::string_view)>&) override {
    return ProbeRefusal();
  }

 private:
  StateMetaInfo meta_;
};

// Records what an operator registers; holds no data.
class ProbeBackend final : public KeyedStateBackend {
 public:
  ProbeBackend(int max_parallelism, KeyGroupRange range)
      : max_parallelism_(max_parallelism), range_(range) {}
  const KeyGroupRange& key_group_range() const override { return range_; }
  int max_parallelism() const override { return max_parallelism_; }
  Status SetCurrentKey(std::string_view) override { return ProbeRefusal(); }
  int current_key_group() const override { return range_.start; }
  Status ForEachKey(std::string_view, std::string_view,
                    const std::function<bool(std::string_view)>&) override {
    return ProbeRefusal();
  }
  std::vector<StateMetaInfo> RegisteredStates() const override {
    std::vector<StateMetaInfo> out;
    for (const auto& s : states_) out.push_back(s->meta());
    return out;
  }

 protected:
  Result<RawKeyedState*> GetOrCreateRawState(const StateMetaInfo& meta) override {
    for (const auto& s : states_) {
      if (s->meta().name == meta.name) return s.get();
    }
    states_.push_back(std::make_unique<ProbeState>(meta));
    return states_.back().get();
  }

 private:
  int max_parallelism_;
  KeyGroupRange range_;
  std::vector<std::unique_ptr<ProbeState>> states_;
};

class ProbeTimers final : public TimerService {
 public:
  int64_t CurrentProcessingTime() const override { return NowUnixMs(); }
  Status RegisterProcessingTimeTimer(int64_t) override { return ProbeRefusal(); }
  Status DeleteProcessingTimeTimer(int64_t) override { return ProbeRefusal(); }
  int64_t CurrentWatermark() const override { return kMinWatermark; }
  Status RegisterEventTimeTimer(int64_t) override { return ProbeRefusal(); }
  Status DeleteEventTimeTimer(int64_t) override { return ProbeRefusal(); }
};

class ProbeContext final : public OperatorContext {
 public:
  ProbeContext(const std::string& job_id, const std::string& uid, int parallelism,
               const Configuration& config, KeyedStateBackend* backend)
      : job_id_(job_id),
        uid_(uid),
        parallelism_(parallelism),
        config_(config),
        backend_(backend),
        operator_state_(uid, false, {}) {}
  const std::string& job_id() const override { return job_id_; }
  const std::string& operator_uid() const override { return uid_; }
  int subtask() const override { return 0; }
  int parallelism() const override { return parallelism_; }
  bool checkpointing_enabled() const override { return false; }
  const Configuration& configuration() const override { return config_; }
  KeyedStateBackend* keyed_state() override { return backend_; }
  TimerService* timers() override { return &timers_; }
  std::string_view current_key() const override { return {}; }
  OperatorStateStore& operator_state() override { return operator_state_; }

 private:
  const std::string& job_id_;
  const std::string& uid_;
  int parallelism_;
  const Configuration& config_;
  KeyedStateBackend* backend_;
  ProbeTimers timers_;
  TaskOperatorStateStore operator_state_;  // empty: the probe restores nothing
};

class DiscardOutput final : public Output {
 public:
  void Emit(Record) override {}
};

// The states of operator `uid` in the checkpoint, by name (every subtask's backend registers the
// same states; the first description of a name wins).
std::map<std::string, StateMetaInfo> CheckpointedStates(const CheckpointMetadata& checkpoint,
                                                        const std::string& uid) {
  std::map<std::string, StateMetaInfo> states;
  for (const auto& b : checkpoint.backends) {
    const size_t cut = b.backend_id.rfind('_');
    if (cut == std::string::npos || b.backend_id.compare(0, cut, uid) != 0 || cut != uid.size()) {
      continue;
    }
    for (const auto& s : b.states) states.emplace(s.name, s);
  }
  return states;
}

// What operator `index` registers in Open; nullopt when that cannot be learned (its Open threw).
std::optional<std::vector<StateMetaInfo>> ProbeRegistrations(const OperatorSpec& spec,
                                                             const ExecutionPlan& plan, int index,
                                                             const Configuration& config,
                                                             const std::string& job_id) {
  const int parallelism = plan.parallelism[index];
  ProbeBackend backend(plan.max_parallelism,
                       KeyGroupRange::ForSubtask(plan.max_parallelism, parallelism, 0));
  ProbeContext ctx(job_id, plan.uids[index], parallelism, config, &backend);
  DiscardOutput out;
  try {
    std::unique_ptr<StreamOperator> op = spec.new_operator();
    if (!op) return std::nullopt;
    // A refused access ends Open early; what was registered before it is still checked.
    Status opened = op->Open(ctx, std::nullopt, out);
    if (!opened.ok()) {
      LogInfo("state check: operator '" + plan.uids[index] + "' did not open against the probe (" +
              opened.ToString() + "); its later registrations are checked when its task opens");
    }
    op->Close();
  } catch (const std::exception& e) {
    LogInfo("state check: operator '" + plan.uids[index] + "' threw in Open: " + e.what());
    return std::nullopt;
  }
  return backend.RegisteredStates();
}

}  // namespace

Status CheckStateCompatibility(const JobGraph& graph, const ExecutionPlan& plan,
                               const Configuration& config, const std::string& job_id,
                               const CheckpointMetadata& checkpoint, const std::string& source) {
  for (size_t i = 0; i < graph.operators.size(); ++i) {
    const OperatorSpec& spec = graph.operators[i];
    if (spec.is_source() || !spec.keyed() || !spec.new_operator) continue;
    const std::string& uid = plan.uids[i];
    const std::map<std::string, StateMetaInfo> checkpointed = CheckpointedStates(checkpoint, uid);
    if (checkpointed.empty()) continue;
    auto registered = ProbeRegistrations(spec, plan, static_cast<int>(i), config, job_id);
    if (!registered) continue;
    for (const StateMetaInfo& meta : *registered) {
      auto it = checkpointed.find(meta.name);
      if (it == checkpointed.end() || it->second == meta) continue;
      return Status::InvalidArgument("checkpoint " + std::to_string(checkpoint.checkpoint_id) +
                                     " (" + source + "): operator '" + uid + "' registers state '" +
                                     meta.name + "' as " + DescribeState(meta) +
                                     ", the checkpoint holds it as " + DescribeState(it->second) +
                                     " (a state's kind and serializers must stay the same)");
    }
  }
  return Status::OK();
}

}  // namespace weir
