// The job-level documents of the REST API in Flink's rest_v1 shapes: DashboardConfiguration,
// ClusterOverviewWithVersion, JobIdsWithStatusOverview, MultipleJobsDetails, JobDetailsInfo,
// JobVertexDetailsInfo, JobExceptionsInfoWithHistory. One weir process runs one job: it answers
// as a Flink cluster with one task manager holding every subtask.
#include "web/rest_json.h"

#include <cctype>
#include <cstdio>
#include <ctime>

#include "common/checksum.h"
#include "common/version.h"

namespace weir::web {
namespace {

using json = nlohmann::json;

// Flink's ExecutionState of the job's subtasks, from the job's state.
const char* SubtaskState(JobState s) {
  switch (s) {
    case JobState::kRunning:
      return "RUNNING";
    case JobState::kFinished:
      return "FINISHED";
    case JobState::kCancelled:
      return "CANCELED";
    case JobState::kFailed:
      return "FAILED";
    case JobState::kCreated:
    case JobState::kRestarting:
      return "CREATED";
  }
  return "CREATED";
}

// Counts of subtasks per ExecutionState, every state present (Flink's "tasks" / status-counts).
json StateCounts(JobState job_state, int subtasks) {
  json counts = json::object();
  for (const char* s : {"CREATED", "SCHEDULED", "DEPLOYING", "RUNNING", "FINISHED", "CANCELING",
                        "CANCELED", "FAILED", "RECONCILING", "INITIALIZING"}) {
    counts[s] = 0;
  }
  counts[SubtaskState(job_state)] = subtasks;
  return counts;
}

// The same counts as /jobs/overview spells them: lower-case states and a total.
json OverviewTaskCounts(JobState job_state, int subtasks) {
  json counts = {{"total", subtasks}};
  const json by_state = StateCounts(job_state, subtasks);
  for (const auto& [state, n] : by_state.items()) {
    std::string name = state;
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    counts[name] = n;
  }
  return counts;
}

int TotalSubtasks(const ExecutionPlan& plan) {
  int n = 0;
  for (const auto& v : plan.vertices) n += v.parallelism;
  return n;
}

std::string VertexName(const JobGraph& graph, const TaskVertex& vertex) {
  std::string name;
  for (int op : vertex.operators) {
    name += (name.empty() ? "" : " -> ") + graph.operators[static_cast<size_t>(op)].name;
  }
  return name;
}

// IOMetricsInfo of a vertex: records summed over its running subtasks (bytes are not counted).
json VertexMetrics(const std::vector<Task::Metrics>& metrics, const std::string& head_uid) {
  uint64_t in = 0, out = 0;
  int64_t backpressure_ns = 0;
  for (const auto& m : metrics) {
    if (m.head_uid != head_uid) continue;
    in += m.records_in;
    out += m.records_out;
    backpressure_ns += m.backpressure_ns;
  }
  return {{"read-bytes", 0},
          {"read-bytes-complete", false},
          {"write-bytes", 0},
          {"write-bytes-complete", false},
          {"read-records", in},
          {"read-records-complete", true},
          {"write-records", out},
          {"write-records-complete", true},
          {"accumulated-backpressured-time", backpressure_ns / 1000000}};
}

// The least watermark over the vertex's subtasks (Flink's "low watermark"); null while one of
// them has none.
json LowWatermark(const std::vector<Task::Metrics>& metrics, const std::string& head_uid,
                  int64_t Task::Metrics::*field) {
  int64_t low = kMaxWatermark;
  bool any = false;
  for (const auto& m : metrics) {
    if (m.head_uid != head_uid) continue;
    if (m.*field == kMinWatermark) return nullptr;
    low = std::min(low, m.*field);
    any = true;
  }
  return any ? json(low) : json(nullptr);
}

int64_t EndTime(const JobStatusView& st) { return st.end_unix_ms == 0 ? -1 : st.end_unix_ms; }
int64_t Duration(const JobStatusView& st, int64_t now) {
  if (st.start_unix_ms == 0) return 0;
  return (st.end_unix_ms == 0 ? now : st.end_unix_ms) - st.start_unix_ms;
}

}  // namespace

std::string VertexId(const ExecutionPlan& plan, size_t vertex) {
  const std::string& uid = plan.uids[static_cast<size_t>(plan.vertices[vertex].operators.front())];
  char hex[33];
  std::snprintf(hex, sizeof(hex), "%016llx%016llx",
                static_cast<unsigned long long>(Hash64("weir-vertex:" + uid)),
                static_cast<unsigned long long>(Hash64(uid)));
  return hex;
}

int FindVertex(const ExecutionPlan& plan, const std::string& vertex_id) {
  for (size_t v = 0; v < plan.vertices.size(); ++v) {
    // The uid first: task ids name it, and comparing it needs no hashing.
    if (plan.uids[static_cast<size_t>(plan.vertices[v].operators.front())] == vertex_id ||
        VertexId(plan, v) == vertex_id) {
      return static_cast<int>(v);
    }
  }
  return -1;
}

json ErrorJson(const std::string& message) { return {{"errors", json::array({message})}}; }

json DashboardConfigJson(int64_t now) {
  const std::time_t t = static_cast<std::time_t>(now / 1000);
  std::tm local{};
  localtime_r(&t, &local);
  return {{"refresh-interval", 3000},
          {"timezone-name", local.tm_zone ? local.tm_zone : "UTC"},
          {"timezone-offset", local.tm_gmtoff * 1000},
          {"flink-version", kWeirVersion},
          {"flink-revision", kWeirCommit},
          {"features",
           {{"web-submit", false},
            {"web-cancel", true},
            {"web-rescale", false},
            {"web-history", false}}},
          // weir's addition: what answers
          {"weir-version", kWeirVersion}};
}

json OverviewJson(JobRuntime& job) {
  const JobState state = job.status().state;
  const int slots = TotalSubtasks(job.plan());
  const bool running =
      state == JobState::kRunning || state == JobState::kRestarting || state == JobState::kCreated;
  return {{"taskmanagers", 1},
          {"slots-total", slots},
          {"slots-available", running ? 0 : slots},
          {"jobs-running", running ? 1 : 0},
          {"jobs-finished", state == JobState::kFinished ? 1 : 0},
          {"jobs-cancelled", state == JobState::kCancelled ? 1 : 0},
          {"jobs-failed", state == JobState::kFailed ? 1 : 0},
          {"flink-version", kWeirVersion},
          {"flink-commit", kWeirCommit}};
}

json JobsJson(JobRuntime& job) {
  return {{"jobs", json::array({{{"id", job.job_id()},
                                 {"status", JobStateName(job.status().state)},
                                 {"name", job.graph().name}}})}};  // name: weir's addition
}

json JobsOverviewJson(JobRuntime& job, int64_t now) {
  const JobStatusView st = job.status();
  const int subtasks = TotalSubtasks(job.plan());
  return {{"jobs",
           json::array({{{"jid", job.job_id()},
                         {"name", job.graph().name},
                         {"state", JobStateName(st.state)},
                         {"start-time", st.start_unix_ms},
                         {"end-time", EndTime(st)},
                         {"duration", Duration(st, now)},
                         {"last-modification", st.end_unix_ms ? st.end_unix_ms : st.start_unix_ms},
                         {"tasks", OverviewTaskCounts(st.state, subtasks)}}})}};
}

json JobJson(JobRuntime& job, int64_t now) {
  const JobStatusView st = job.status();
  const ExecutionPlan& plan = job.plan();
  const std::vector<Task::Metrics> metrics = job.task_metrics();
  json vertices = json::array();
  for (size_t v = 0; v < plan.vertices.size(); ++v) {
    const TaskVertex& vertex = plan.vertices[v];
    const std::string& head = plan.uids[static_cast<size_t>(vertex.operators.front())];
    json operators = json::array();
    for (int op : vertex.operators) {
      const OperatorSpec& spec = job.graph().operators[static_cast<size_t>(op)];
      operators.push_back({{"uid", plan.uids[static_cast<size_t>(op)]}, {"name", spec.name}});
    }
    vertices.push_back(
        {{"id", VertexId(plan, v)},
         {"name", VertexName(job.graph(), vertex)},
         {"maxParallelism", plan.max_parallelism},
         {"parallelism", vertex.parallelism},
         {"status", SubtaskState(st.state)},
         {"start-time", st.start_unix_ms},
         {"end-time", EndTime(st)},
         {"duration", Duration(st, now)},
         {"tasks", StateCounts(st.state, vertex.parallelism)},
         {"metrics", VertexMetrics(metrics, head)},
         // weir's additions
         {"uid", head},
         {"keyed", vertex.keyed()},
         {"input-watermark", LowWatermark(metrics, head, &Task::Metrics::input_watermark)},
         {"output-watermark", LowWatermark(metrics, head, &Task::Metrics::output_watermark)},
         {"input", vertex.input_vertex < 0
                       ? json(nullptr)
                       : json(VertexId(plan, static_cast<size_t>(vertex.input_vertex)))},
         {"operators", operators}});
  }
  // The plan Flink's UI draws: one node per vertex, inputs with their ship strategy.
  json nodes = json::array();
  for (size_t v = 0; v < plan.vertices.size(); ++v) {
    const TaskVertex& vertex = plan.vertices[v];
    json inputs = json::array();
    if (vertex.input_vertex >= 0) {
      inputs.push_back({{"num", 0},
                        {"id", VertexId(plan, static_cast<size_t>(vertex.input_vertex))},
                        {"ship_strategy", vertex.keyed() ? "HASH" : "REBALANCE"},
                        {"exchange", "pipelined_bounded"}});
    }
    if (vertex.input_vertex2 >= 0) {  // Union, Connect
      inputs.push_back({{"num", 1},
                        {"id", VertexId(plan, static_cast<size_t>(vertex.input_vertex2))},
                        {"ship_strategy", vertex.keyed() ? "HASH" : "REBALANCE"},
                        {"exchange", "pipelined_bounded"}});
    }
    nodes.push_back({{"id", VertexId(plan, v)},
                     {"parallelism", vertex.parallelism},
                     {"operator", ""},
                     {"operator_strategy", ""},
                     {"description", VertexName(job.graph(), vertex)},
                     {"inputs", inputs},
                     {"optimizer_properties", json::object()}});
  }
  json timestamps = json::object();
  for (const char* s : {"INITIALIZING", "CREATED", "RUNNING", "FAILING", "FAILED", "CANCELLING",
                        "CANCELED", "FINISHED", "RESTARTING", "SUSPENDED", "RECONCILING"}) {
    timestamps[s] = 0;
  }
  timestamps["CREATED"] = st.start_unix_ms;
  timestamps["RUNNING"] = st.start_unix_ms;
  if (st.end_unix_ms != 0) timestamps[JobStateName(st.state)] = st.end_unix_ms;
  return {{"jid", job.job_id()},
          {"name", job.graph().name},
          {"isStoppable", false},
          {"state", JobStateName(st.state)},
          {"job-type", "STREAMING"},
          {"start-time", st.start_unix_ms},
          {"end-time", EndTime(st)},
          {"duration", Duration(st, now)},
          {"maxParallelism", plan.max_parallelism},
          {"now", now},
          {"timestamps", timestamps},
          {"vertices", vertices},
          {"status-counts", StateCounts(st.state, TotalSubtasks(plan))},
          {"plan",
           {{"jid", job.job_id()},
            {"name", job.graph().name},
            {"type", "STREAMING"},
            {"nodes", nodes}}},
          // weir's additions
          {"restarts", st.restarts},
          {"checkpoint-dir", job.job_dir()}};
}

json VertexJson(JobRuntime& job, size_t vertex, int64_t now) {
  const JobStatusView st = job.status();
  const ExecutionPlan& plan = job.plan();
  const TaskVertex& v = plan.vertices[vertex];
  const std::vector<Task::Metrics> metrics = job.task_metrics();
  const std::string& head = plan.uids[static_cast<size_t>(v.operators.front())];
  json subtasks = json::array();
  for (int s = 0; s < v.parallelism; ++s) {
    json m = VertexMetrics({}, head);
    for (const auto& t : metrics) {
      if (t.head_uid == head && t.subtask == s) m = VertexMetrics({t}, head);
    }
    subtasks.push_back({{"subtask", s},
                        {"status", SubtaskState(st.state)},
                        {"attempt", st.restarts},
                        {"endpoint", "localhost"},
                        {"start-time", st.start_unix_ms},
                        {"end-time", EndTime(st)},
                        {"duration", Duration(st, now)},
                        {"metrics", m},
                        {"taskmanager-id", "weir"},
                        {"start_time", st.start_unix_ms},
                        {"task", plan.TaskId(static_cast<int>(vertex), s)}});  // weir's
  }
  return {{"id", VertexId(plan, vertex)},
          {"name", VertexName(job.graph(), v)},
          {"parallelism", v.parallelism},
          {"maxParallelism", plan.max_parallelism},
          {"now", now},
          {"subtasks", subtasks},
          {"uid", head}};  // weir's addition
}

json VertexWatermarksJson(JobRuntime& job, size_t vertex) {
  const ExecutionPlan& plan = job.plan();
  const std::string& head = plan.uids[static_cast<size_t>(plan.vertices[vertex].operators.front())];
  json out = json::array();
  for (const auto& m : job.task_metrics()) {
    if (m.head_uid != head) continue;
    // Flink's metric values are strings; no watermark is Long.MIN_VALUE.
    out.push_back({{"id", std::to_string(m.subtask) + ".currentInputWatermark"},
                   {"value", std::to_string(m.input_watermark)}});
    out.push_back({{"id", std::to_string(m.subtask) + ".currentOutputWatermark"},
                   {"value", std::to_string(m.output_watermark)}});
  }
  return out;
}

json ExceptionsJson(JobRuntime& job) {
  const std::vector<JobException> exceptions = job.exceptions();
  json entries = json::array();
  for (const auto& e : exceptions) {
    entries.push_back({{"exceptionName", "weir.JobFailure"},
                       {"stacktrace", e.message},
                       {"timestamp", e.unix_ms},
                       {"taskName", e.task_id.empty() ? json(nullptr) : json(e.task_id)},
                       {"endpoint", e.task_id.empty() ? json(nullptr) : json("localhost")},
                       {"taskManagerId", e.task_id.empty() ? json(nullptr) : json("weir")},
                       {"failureLabels", json::object()},
                       {"concurrentExceptions", json::array()}});
  }
  json out = {{"exceptionHistory", {{"entries", entries}, {"truncated", false}}}};
  // Flink 1.x's deprecated fields, still read by older clients.
  out["root-exception"] = exceptions.empty() ? json(nullptr) : json(exceptions.front().message);
  out["timestamp"] = exceptions.empty() ? json(nullptr) : json(exceptions.front().unix_ms);
  out["all-exceptions"] = json::array();
  out["truncated"] = false;
  return out;
}

}  // namespace weir::web
