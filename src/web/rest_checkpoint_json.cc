// The checkpoint documents of the REST API in Flink's rest_v1 shapes: CheckpointingStatistics,
// CheckpointStatistics (className completed / failed / in_progress) with per-vertex
// TaskCheckpointStatistics, TaskCheckpointStatisticsWithSubtaskDetails, CheckpointConfigInfo.
// Durations are milliseconds, as in Flink; weir's microsecond figures are additions named *_us.
#include <algorithm>
#include <cmath>
#include <set>

#include "state/changelog/changelog_options.h"
#include "web/rest_json.h"

namespace weir::web {
namespace {

using json = nlohmann::json;

int64_t Ms(int64_t us) { return (us + 500) / 1000; }

// min / max / avg and the percentiles of Flink's StatsSummaryDto (linear interpolation between
// the closest ranks; zeros when there are no values).
json StatsSummary(std::vector<int64_t> values) {
  json j = {{"min", 0},   {"max", 0},   {"avg", 0},   {"p50", 0.0},
            {"p90", 0.0}, {"p95", 0.0}, {"p99", 0.0}, {"p999", 0.0}};
  if (values.empty()) return j;
  std::sort(values.begin(), values.end());
  int64_t sum = 0;
  for (int64_t v : values) sum += v;
  j["min"] = values.front();
  j["max"] = values.back();
  j["avg"] = sum / static_cast<int64_t>(values.size());
  const auto quantile = [&](double q) {
    const double rank = q * static_cast<double>(values.size() - 1);
    const auto lo = static_cast<size_t>(std::floor(rank));
    const size_t hi = std::min(lo + 1, values.size() - 1);
    const double frac = rank - static_cast<double>(lo);
    return static_cast<double>(values[lo]) + frac * static_cast<double>(values[hi] - values[lo]);
  };
  j["p50"] = quantile(0.5);
  j["p90"] = quantile(0.9);
  j["p95"] = quantile(0.95);
  j["p99"] = quantile(0.99);
  j["p999"] = quantile(0.999);
  return j;
}

template <typename Items, typename F>
json SummaryOf(const Items& items, F value) {
  std::vector<int64_t> values;
  for (const auto& item : items) values.push_back(static_cast<int64_t>(value(item)));
  return StatsSummary(std::move(values));
}

const char* ClassName(CheckpointStatus s) {
  switch (s) {
    case CheckpointStatus::kCompleted:
      return "completed";
    case CheckpointStatus::kFailed:
      return "failed";
    case CheckpointStatus::kInProgress:
      return "in_progress";
  }
  return "in_progress";
}

// weir's kind of a checkpoint (Flink has no per-checkpoint notion of incremental).
const char* KindName(CheckpointKind k) {
  switch (k) {
    case CheckpointKind::kFull:
      return "FULL";
    case CheckpointKind::kIncremental:
      return "INCREMENTAL";
    case CheckpointKind::kChangelog:
      return "CHANGELOG";
    case CheckpointKind::kCanonicalSavepoint:
    case CheckpointKind::kNativeSavepoint:
      return "SAVEPOINT";
  }
  return "?";
}

// The vertex a task id ("<head uid>#<subtask>") belongs to, and its subtask; -1 if none.
std::pair<int, int> VertexOfTask(const ExecutionPlan& plan, const std::string& task_id) {
  const size_t hash = task_id.rfind('#');
  if (hash == std::string::npos) return {-1, -1};
  const int vertex = FindVertex(plan, task_id.substr(0, hash));
  return {vertex, std::atoi(task_id.c_str() + hash + 1)};
}

std::vector<const SubtaskCheckpointStats*> SubtasksOf(const ExecutionPlan& plan,
                                                      const CheckpointStats& c, size_t vertex) {
  std::vector<const SubtaskCheckpointStats*> out;
  for (const auto& t : c.subtasks) {
    if (VertexOfTask(plan, t.task_id).first == static_cast<int>(vertex)) out.push_back(&t);
  }
  return out;
}

int64_t StartDelayMs(const CheckpointStats& c, const SubtaskCheckpointStats& t) {
  return t.barrier_unix_ms == 0 ? 0 : std::max<int64_t>(0, t.barrier_unix_ms - c.trigger_unix_ms);
}

// TaskCheckpointStatistics: one vertex's share of a checkpoint.
json TaskStatisticsJson(const ExecutionPlan& plan, const CheckpointStats& c, size_t vertex) {
  const auto subtasks = SubtasksOf(plan, c, vertex);
  int64_t latest_ack = 0;
  uint64_t checkpointed = 0, full = 0;
  for (const auto* t : subtasks) {
    latest_ack = std::max(latest_ack, t->acknowledged_unix_ms);
    checkpointed += t->checkpointed_bytes;
    full += t->full_bytes;
  }
  const int parallelism = plan.vertices[vertex].parallelism;
  const bool all = static_cast<int>(subtasks.size()) == parallelism;
  return {{"id", c.checkpoint_id},
          {"status", all ? "COMPLETED" : CheckpointStatusName(c.status)},
          {"latest_ack_timestamp", latest_ack},
          {"checkpointed_size", checkpointed},
          {"state_size", full},
          {"end_to_end_duration", latest_ack == 0 ? 0 : latest_ack - c.trigger_unix_ms},
          {"alignment_buffered", 0},
          {"processed_data", 0},
          {"persisted_data", 0},
          {"num_subtasks", parallelism},
          {"num_acknowledged_subtasks", subtasks.size()}};
}

// CheckpointStatistics (Completed-, Failed- or PendingCheckpointStatistics by className).
json CheckpointStatisticsJson(const ExecutionPlan& plan, const CheckpointStats& c, int64_t now,
                              const std::set<uint64_t>& retained) {
  int64_t latest_ack = 0;
  for (const auto& t : c.subtasks) latest_ack = std::max(latest_ack, t.acknowledged_unix_ms);
  json tasks = json::object();
  for (size_t v = 0; v < plan.vertices.size(); ++v) {
    tasks[VertexId(plan, v)] = TaskStatisticsJson(plan, c, v);
  }
  const bool savepoint = IsSavepoint(c.kind);
  json j = {{"className", ClassName(c.status)},
            {"id", c.checkpoint_id},
            {"status", CheckpointStatusName(c.status)},
            {"is_savepoint", savepoint},
            {"savepointFormat",
             savepoint ? json(c.kind == CheckpointKind::kNativeSavepoint ? "NATIVE" : "CANONICAL")
                       : json(nullptr)},
            {"trigger_timestamp", c.trigger_unix_ms},
            {"latest_ack_timestamp", latest_ack},
            {"checkpointed_size", c.checkpointed_bytes},
            {"state_size", c.full_bytes},
            {"end_to_end_duration", c.duration_ms(now)},
            {"alignment_buffered", 0},
            {"processed_data", 0},
            {"persisted_data", 0},
            {"num_subtasks", c.subtasks_total},
            {"num_acknowledged_subtasks", c.subtasks.size()},
            {"checkpoint_type", savepoint ? "SAVEPOINT" : "CHECKPOINT"},
            {"tasks", tasks},
            // weir's additions
            {"kind", KindName(c.kind)},
            {"end_timestamp", c.end_unix_ms}};
  if (c.status == CheckpointStatus::kCompleted) {
    j["external_path"] = c.metadata_path;
    // A savepoint is the user's and stays; a checkpoint is discarded once subsumed.
    j["discarded"] = !savepoint && !retained.count(c.checkpoint_id);
  } else if (c.status == CheckpointStatus::kFailed) {
    j["failure_timestamp"] = c.end_unix_ms;
    j["failure_message"] = c.failure_reason;
  }
  return j;
}

std::set<uint64_t> RetainedIds(JobRuntime& job) {
  const std::vector<uint64_t> ids = job.retained_checkpoint_ids();
  return {ids.begin(), ids.end()};
}

// One subtask's figures: Flink's CompletedSubtaskCheckpointStatistics fields (ms) and weir's.
json SubtaskJson(const CheckpointStats& c, const SubtaskCheckpointStats& t, int subtask) {
  return {{"className", "completed"},
          {"index", subtask},
          {"status", "completed"},
          {"ack_timestamp", t.acknowledged_unix_ms},
          {"end_to_end_duration", t.acknowledged_unix_ms - c.trigger_unix_ms},
          {"checkpointed_size", t.checkpointed_bytes},
          {"state_size", t.full_bytes},
          {"checkpoint", {{"sync", Ms(t.sync_duration_us)}, {"async", Ms(t.async_duration_us)}}},
          {"alignment",
           {{"buffered", 0},
            {"processed", 0},
            {"persisted", 0},
            {"duration", Ms(t.alignment_duration_us)}}},
          {"start_delay", StartDelayMs(c, t)},
          {"unaligned_checkpoint", false},
          {"aborted", false},
          // weir's additions
          {"task", t.task_id},
          {"sync_duration_us", t.sync_duration_us},
          {"backend_sync_duration_us", t.backend_sync_duration_us},
          {"alignment_duration_us", t.alignment_duration_us},
          {"async_duration_us", t.async_duration_us},
          {"files_written", t.files_written},
          {"files_reused", t.files_reused}};
}

}  // namespace

json CheckpointsJson(JobRuntime& job, int64_t now) {
  const CheckpointStatsSnapshot s = job.checkpoint_stats().value_or(CheckpointStatsSnapshot{});
  const ExecutionPlan& plan = job.plan();
  const std::set<uint64_t> retained = RetainedIds(job);
  json history = json::array();
  for (const auto& c : s.history)
    history.push_back(CheckpointStatisticsJson(plan, c, now, retained));
  json latest = {
      {"completed", nullptr}, {"savepoint", nullptr}, {"failed", nullptr}, {"restored", nullptr}};
  if (s.latest_completed) {
    latest["completed"] = CheckpointStatisticsJson(plan, *s.latest_completed, now, retained);
  }
  if (s.latest_savepoint) {
    latest["savepoint"] = CheckpointStatisticsJson(plan, *s.latest_savepoint, now, retained);
  }
  if (s.latest_failed) {
    latest["failed"] = CheckpointStatisticsJson(plan, *s.latest_failed, now, retained);
  }
  if (s.latest_restore) {
    latest["restored"] = {{"id", s.latest_restore->checkpoint_id},
                          {"restore_timestamp", s.latest_restore->restore_unix_ms},
                          {"is_savepoint", s.latest_restore->is_savepoint},
                          {"external_path", s.latest_restore->metadata_path},
                          {"duration", s.latest_restore->duration_ms}};  // weir's addition
  }
  // The summary covers the completed checkpoints of the history, as Flink's does.
  std::vector<const CheckpointStats*> completed;
  for (const auto& c : s.history) {
    if (c.status == CheckpointStatus::kCompleted) completed.push_back(&c);
  }
  const auto over = [&](auto value) { return SummaryOf(completed, value); };
  const auto zero = [](const CheckpointStats*) { return 0; };
  return {
      {"counts",
       {{"restored", s.restored},
        {"total", s.completed + s.failed + s.in_progress},
        {"in_progress", s.in_progress},
        {"completed", s.completed},
        {"failed", s.failed}}},
      {"summary",
       {{"checkpointed_size", over([](const CheckpointStats* c) { return c->checkpointed_bytes; })},
        {"state_size", over([](const CheckpointStats* c) { return c->full_bytes; })},
        {"end_to_end_duration",
         over([now](const CheckpointStats* c) { return c->duration_ms(now); })},
        {"alignment_buffered", over(zero)},
        {"processed_data", over(zero)},
        {"persisted_data", over(zero)},
        // weir's additions: the slowest subtask's synchronous pause and asynchronous part (ms)
        {"sync_duration",
         over([](const CheckpointStats* c) { return Ms(c->max_sync_duration_us()); })},
        {"async_duration",
         over([](const CheckpointStats* c) { return Ms(c->max_async_duration_us()); })}}},
      {"latest", latest},
      {"history", history}};
}

json CheckpointDetailJson(JobRuntime& job, const CheckpointStats& c, int64_t now) {
  const ExecutionPlan& plan = job.plan();
  json d = CheckpointStatisticsJson(plan, c, now, RetainedIds(job));
  json subtasks = json::array();
  for (const auto& t : c.subtasks) {
    subtasks.push_back(SubtaskJson(c, t, VertexOfTask(plan, t.task_id).second));
  }
  d["subtasks"] = subtasks;  // weir's addition: every subtask in acknowledgement order
  return d;
}

json TaskCheckpointDetailJson(JobRuntime& job, const CheckpointStats& c, size_t vertex,
                              int64_t /*now*/) {
  const ExecutionPlan& plan = job.plan();
  json d = TaskStatisticsJson(plan, c, vertex);
  const auto acked = SubtasksOf(plan, c, vertex);
  const auto over = [&](auto value) { return SummaryOf(acked, value); };
  d["summary"] = {
      {"checkpointed_size",
       over([](const SubtaskCheckpointStats* t) { return t->checkpointed_bytes; })},
      {"state_size", over([](const SubtaskCheckpointStats* t) { return t->full_bytes; })},
      {"end_to_end_duration", over([&](const SubtaskCheckpointStats* t) {
         return t->acknowledged_unix_ms - c.trigger_unix_ms;
       })},
      {"checkpoint_duration",
       {{"sync", over([](const SubtaskCheckpointStats* t) { return Ms(t->sync_duration_us); })},
        {"async", over([](const SubtaskCheckpointStats* t) { return Ms(t->async_duration_us); })}}},
      {"alignment",
       {{"buffered", over([](const SubtaskCheckpointStats*) { return 0; })},
        {"processed", over([](const SubtaskCheckpointStats*) { return 0; })},
        {"persisted", over([](const SubtaskCheckpointStats*) { return 0; })},
        {"duration",
         over([](const SubtaskCheckpointStats* t) { return Ms(t->alignment_duration_us); })}}},
      {"start_delay", over([&](const SubtaskCheckpointStats* t) { return StartDelayMs(c, *t); })}};
  json subtasks = json::array();
  for (int i = 0; i < plan.vertices[vertex].parallelism; ++i) {
    const SubtaskCheckpointStats* found = nullptr;
    for (const auto* t : acked) {
      if (VertexOfTask(plan, t->task_id).second == i) found = t;
    }
    if (found != nullptr) {
      subtasks.push_back(SubtaskJson(c, *found, i));
    } else {
      subtasks.push_back({{"className", "pending"}, {"index", i}, {"status", "pending_or_failed"}});
    }
  }
  d["subtasks"] = subtasks;
  return d;
}

json CheckpointConfigJson(const Configuration& config) {
  const bool retain = config.Get(config::kRetention) == CheckpointRetention::kRetainOnCancellation;
  // Flink's class names, which its REST clients show.
  const bool rocksdb = config.Get(config::kBackendType) == "rocksdb";
  const std::string dir(config.Get(config::kCheckpointsDir));
  return {{"mode", config.Get(config::kMode) == CheckpointingMode::kExactlyOnce ? "exactly_once"
                                                                                : "at_least_once"},
          {"interval", config.Get(config::kInterval).count()},
          {"timeout", config.Get(config::kTimeout).count()},
          {"min_pause", config.Get(config::kMinPause).count()},
          {"max_concurrent", config.Get(config::kMaxConcurrent)},
          {"externalization", {{"enabled", true}, {"delete_on_cancellation", !retain}}},
          {"state_backend", rocksdb ? "EmbeddedRocksDBStateBackend" : "HashMapStateBackend"},
          {"checkpoint_storage",
           dir.empty() ? "JobManagerCheckpointStorage" : "FileSystemCheckpointStorage"},
          {"unaligned_checkpoints", false},
          {"tolerable_failed_checkpoints", config.Get(config::kTolerableFailures)},
          {"aligned_checkpoint_timeout", 0},
          {"checkpoints_after_tasks_finish", true},
          {"state_changelog_enabled", config.Get(config::kChangelogEnabled)},
          {"changelog_periodic_materialization_interval",
           config.Get(config::kChangelogEnabled)
               ? config.Get(config::kChangelogMaterializeInterval).count()
               : 0},
          {"changelog_storage", config.Get(config::kChangelogEnabled) ? "filesystem" : ""},
          // weir's additions
          {"incremental", rocksdb && config.Get(config::kIncremental)},
          {"num_retained", config.Get(config::kNumRetained)},
          {"checkpoints_dir", dir}};
}

json CheckpointStorageJson(JobRuntime& job) {
  const std::vector<CheckpointMetadata> retained = job.retained_checkpoints();
  const CheckpointStorage* storage = job.checkpoint_storage();
  json checkpoints = json::array();
  for (const auto& m : retained) {
    // Own: uploaded by this checkpoint; inherited: by an earlier one; changelog: log files and
    // materializations, written outside any checkpoint.
    uint64_t own = 0, inherited = 0, changelog = 0, own_files = 0, inherited_files = 0,
             changelog_files = 0;
    for (const auto& b : m.backends) {
      for (const auto& f : b.files) {
        if (f.written_by_checkpoint == m.checkpoint_id) {
          own += f.size;
          ++own_files;
        } else if (f.written_by_checkpoint == 0) {
          changelog += f.size;
          ++changelog_files;
        } else {
          inherited += f.size;
          ++inherited_files;
        }
      }
    }
    checkpoints.push_back({{"id", m.checkpoint_id},
                           {"kind", KindName(m.kind)},
                           {"own_size", own},
                           {"inherited_size", inherited},
                           {"own_files", own_files},
                           {"inherited_files", inherited_files},
                           {"changelog_size", changelog},
                           {"changelog_files", changelog_files},
                           {"state_size", m.FullBytes()}});
  }
  // The storage as it is: every file under the job directory and, with dstl.dfs.base-path,
  // under the job's log directory, referenced or not.
  uint64_t total = 0, files = 0, shared_files = 0, shared_bytes = 0, log_files = 0, log_bytes = 0;
  std::string error;
  const auto walk = [&](const std::string& root, uint64_t* root_files, uint64_t* root_bytes) {
    std::vector<std::string> dirs = {root};
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
        if (root_files != nullptr) {
          *root_bytes += st->size;
          ++*root_files;
        } else if (dir == storage->SharedDir()) {
          shared_bytes += st->size;
          ++shared_files;
        }
      }
    }
  };
  if (storage != nullptr) {
    walk(storage->job_dir(), nullptr, nullptr);
    if (!storage->changelog_dir().empty()) walk(storage->changelog_dir(), &log_files, &log_bytes);
  }
  const uint64_t live = retained.empty() ? 0 : retained.back().FullBytes();
  json out = {
      {"job_dir", storage ? storage->job_dir() : ""},
      {"retained", checkpoints},
      {"shared_files", shared_files},
      {"shared_size", shared_bytes},
      {"changelog_dir", storage ? storage->changelog_dir() : ""},
      {"changelog_dir_files", log_files},
      {"changelog_dir_size", log_bytes},
      {"total_files", files},
      {"total_size", total},
      {"live_state_size", live},
      {"size_ratio", live == 0 ? 0.0 : static_cast<double>(total) / static_cast<double>(live)}};
  if (!error.empty()) out["listing_error"] = error;
  return out;
}

}  // namespace weir::web
