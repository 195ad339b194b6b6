#include "web/rest_json.h"

#include <algorithm>

namespace weir::web {
namespace {

using json = nlohmann::json;

const char* KindName(CheckpointKind k) {
  switch (k) {
    case CheckpointKind::kFull:
      return "FULL";
    case CheckpointKind::kIncremental:
      return "INCREMENTAL";
    case CheckpointKind::kCanonicalSavepoint:
    case CheckpointKind::kNativeSavepoint:
      return "SAVEPOINT";
  }
  return "?";
}

json CheckpointSummaryJson(const CheckpointStats& c, int64_t now) {
  json j = {
      {"id", c.checkpoint_id},
      {"status", CheckpointStatusName(c.status)},
      {"checkpoint_type", KindName(c.kind)},
      {"is_savepoint", IsSavepoint(c.kind)},
      {"trigger_timestamp", c.trigger_unix_ms},
      {"latest_ack_timestamp", c.subtasks.empty() ? 0 : c.subtasks.back().acknowledged_unix_ms},
      {"end_timestamp", c.end_unix_ms},
      {"end_to_end_duration", c.duration_ms(now)},
      {"checkpointed_size", c.checkpointed_bytes},
      {"state_size", c.full_bytes},
      {"num_subtasks", c.subtasks_total},
      {"num_acknowledged_subtasks", c.subtasks.size()},
      {"external_path", c.metadata_path},
      {"failure_message", c.failure_reason}};
  if (IsSavepoint(c.kind)) {
    j["savepointFormat"] = c.kind == CheckpointKind::kNativeSavepoint ? "NATIVE" : "CANONICAL";
  }
  return j;
}

// min / avg / max of `value` over the completed checkpoints of the history.
template <typename F>
json MinAvgMax(const std::vector<CheckpointStats>& history, F value) {
  int64_t min = 0, max = 0, sum = 0, n = 0;
  for (const auto& c : history) {
    if (c.status != CheckpointStatus::kCompleted) continue;
    const auto v = static_cast<int64_t>(value(c));
    min = n == 0 ? v : std::min(min, v);
    max = n == 0 ? v : std::max(max, v);
    sum += v;
    ++n;
  }
  return {{"min", min}, {"avg", n == 0 ? 0 : sum / n}, {"max", max}};
}

}  // namespace

json ErrorJson(const std::string& message) { return {{"errors", json::array({message})}}; }

json JobsJson(JobRuntime& job) {
  return {{"jobs", json::array({{{"id", job.job_id()},
                                 {"name", job.graph().name},
                                 {"status", JobStateName(job.status().state)}}})}};
}

json JobJson(JobRuntime& job, int64_t now) {
  const JobStatusView st = job.status();
  const ExecutionPlan& plan = job.plan();
  json vertices = json::array();
  for (size_t v = 0; v < plan.vertices.size(); ++v) {
    const TaskVertex& vertex = plan.vertices[v];
    json operators = json::array();
    std::string name;
    for (int op : vertex.operators) {
      const OperatorSpec& spec = job.graph().operators[static_cast<size_t>(op)];
      operators.push_back({{"uid", plan.uids[static_cast<size_t>(op)]}, {"name", spec.name}});
      name += (name.empty() ? "" : " -> ") + spec.name;
    }
    vertices.push_back(
        {{"id", plan.uids[static_cast<size_t>(vertex.operators.front())]},
         {"name", name},
         {"parallelism", vertex.parallelism},
         {"keyed", vertex.keyed()},
         {"input",
          vertex.input_vertex < 0
              ? json(nullptr)
              : json(plan.uids[static_cast<size_t>(
                    plan.vertices[static_cast<size_t>(vertex.input_vertex)].operators.front())])},
         {"operators", operators}});
  }
  return {{"jid", job.job_id()},
          {"name", job.graph().name},
          {"state", JobStateName(st.state)},
          {"start-time", st.start_unix_ms},
          {"end-time", st.end_unix_ms == 0 ? -1 : st.end_unix_ms},
          {"duration", (st.end_unix_ms == 0 ? now : st.end_unix_ms) - st.start_unix_ms},
          {"now", now},
          {"restarts", st.restarts},
          {"max-parallelism", plan.max_parallelism},
          {"checkpoint-dir", job.job_dir()},
          {"vertices", vertices}};
}

json CheckpointsJson(const CheckpointStatsSnapshot& s, int64_t now) {
  json history = json::array();
  for (const auto& c : s.history) history.push_back(CheckpointSummaryJson(c, now));
  json latest = {
      {"completed", nullptr}, {"savepoint", nullptr}, {"failed", nullptr}, {"restored", nullptr}};
  if (s.latest_completed) latest["completed"] = CheckpointSummaryJson(*s.latest_completed, now);
  if (s.latest_savepoint) latest["savepoint"] = CheckpointSummaryJson(*s.latest_savepoint, now);
  if (s.latest_failed) latest["failed"] = CheckpointSummaryJson(*s.latest_failed, now);
  if (s.latest_restore) {
    latest["restored"] = {{"id", s.latest_restore->checkpoint_id},
                          {"external_path", s.latest_restore->metadata_path},
                          {"is_savepoint", s.latest_restore->is_savepoint},
                          {"restore_timestamp", s.latest_restore->restore_unix_ms},
                          {"duration", s.latest_restore->duration_ms}};
  }
  return {{"counts",
           {{"restored", s.restored},
            {"total", s.completed + s.failed + s.in_progress},
            {"in_progress", s.in_progress},
            {"completed", s.completed},
            {"failed", s.failed}}},
          {"summary",
           {{"end_to_end_duration",
             MinAvgMax(s.history, [now](const CheckpointStats& c) { return c.duration_ms(now); })},
            {"checkpointed_size",
             MinAvgMax(s.history, [](const CheckpointStats& c) { return c.checkpointed_bytes; })},
            {"state_size",
             MinAvgMax(s.history, [](const CheckpointStats& c) { return c.full_bytes; })}}},
          {"latest", latest},
          {"history", history}};
}

json CheckpointDetailJson(const CheckpointStats& c, int64_t now) {
  json d = CheckpointSummaryJson(c, now);
  json subtasks = json::array();
  for (const auto& t : c.subtasks) {
    subtasks.push_back({{"task", t.task_id},
                        {"ack_timestamp", t.acknowledged_unix_ms},
                        {"end_to_end_duration", t.acknowledged_unix_ms - c.trigger_unix_ms},
                        {"sync_duration_us", t.sync_duration_us},
                        {"backend_sync_duration_us", t.backend_sync_duration_us},
                        {"alignment_duration_us", t.alignment_duration_us},
                        {"async_duration_us", t.async_duration_us},
                        {"checkpointed_size", t.checkpointed_bytes},
                        {"state_size", t.full_bytes},
                        {"files_written", t.files_written},
                        {"files_reused", t.files_reused}});
  }
  d["subtasks"] = subtasks;
  return d;
}

json CheckpointConfigJson(const Configuration& config) {
  const bool retain = config.Get(config::kRetention) == CheckpointRetention::kRetainOnCancellation;
  // Flink's class names, which its REST clients show.
  const bool rocksdb = config.Get(config::kBackendType) == "rocksdb";
  return {{"mode", config.Get(config::kMode) == CheckpointingMode::kExactlyOnce ? "exactly_once"
                                                                                : "at_least_once"},
          {"interval", config.Get(config::kInterval).count()},
          {"timeout", config.Get(config::kTimeout).count()},
          {"min_pause", config.Get(config::kMinPause).count()},
          {"max_concurrent", config.Get(config::kMaxConcurrent)},
          {"tolerable_failed_checkpoints", config.Get(config::kTolerableFailures)},
          {"externalization", {{"enabled", true}, {"delete_on_cancellation", !retain}}},
          {"state_backend", rocksdb ? "EmbeddedRocksDBStateBackend" : "HashMapStateBackend"},
          {"incremental", rocksdb && config.Get(config::kIncremental)},
          {"num_retained", config.Get(config::kNumRetained)},
          {"checkpoint_storage", config.Get(config::kCheckpointsDir)}};
}

json CheckpointStorageJson(JobRuntime& job) {
  const std::vector<CheckpointMetadata> retained = job.retained_checkpoints();
  const CheckpointStorage* storage = job.checkpoint_storage();
  json checkpoints = json::array();
  for (const auto& m : retained) {
    uint64_t own = 0, inherited = 0, own_files = 0, inherited_files = 0;
    for (const auto& b : m.backends) {
      for (const auto& f : b.files) {
        if (f.written_by_checkpoint == m.checkpoint_id) {
          own += f.size;
          ++own_files;
        } else {
          inherited += f.size;
          ++inherited_files;
        }
      }
    }
    checkpoints.push_back({{"id", m.checkpoint_id},
                           {"checkpoint_type", KindName(m.kind)},
                           {"own_size", own},
                           {"inherited_size", inherited},
                           {"own_files", own_files},
                           {"inherited_files", inherited_files},
                           {"state_size", m.FullBytes()}});
  }
  // The directory as it is: every file under it, referenced or not.
  uint64_t total = 0, files = 0, shared_files = 0, shared_bytes = 0;
  std::string error;
  if (storage != nullptr) {
    std::vector<std::string> dirs = {storage->job_dir()};
    while (!dirs.empty() && error.empty()) {
      const std::string dir = dirs.back();
      dirs.pop_back();
      auto entries = storage->fs().ListDir(dir);
      if (!entries.ok()) {
        if (entries.status().code() != StatusCode::kNotFound) error = entries.status().message();
        continue;
      }
      for (const auto& e : *entries) {
        const std::string path = JoinPath(dir, e.name);
        if (e.is_directory) {
          dirs.push_back(path);
          continue;
        }
        auto st = storage->fs().Stat(path);
        if (!st.ok()) continue;  // deleted meanwhile (subsumed)
        total += st->size;
        ++files;
        if (dir == storage->SharedDir()) {
          shared_bytes += st->size;
          ++shared_files;
        }
      }
    }
  }
  const uint64_t live = retained.empty() ? 0 : retained.back().FullBytes();
  json out = {
      {"job_dir", storage ? storage->job_dir() : ""},
      {"retained", checkpoints},
      {"shared_files", shared_files},
      {"shared_size", shared_bytes},
      {"total_files", files},
      {"total_size", total},
      {"live_state_size", live},
      {"size_ratio", live == 0 ? 0.0 : static_cast<double>(total) / static_cast<double>(live)}};
  if (!error.empty()) out["listing_error"] = error;
  return out;
}

}  // namespace weir::web
