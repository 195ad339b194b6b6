// The JSON documents of the REST API, built from a running job's state. They follow Flink's
// rest_v1 schema (field names, units, value spellings; tests/web/testdata holds the excerpt a test
// checks them against); weir's own additions keep their own names beside Flink's fields.
#pragma once

#include <nlohmann/json.hpp>

#include "runtime/job_runtime.h"

namespace weir::web {

// Flink's JobVertexID for a task vertex: 32 hex digits, derived from the uid of the vertex's head
// operator (stable across runs, like Flink's ids of operators with a uid).
std::string VertexId(const ExecutionPlan& plan, size_t vertex);
// The vertex of `vertex_id` (VertexId's spelling, or the head operator's uid); -1 if none.
int FindVertex(const ExecutionPlan& plan, const std::string& vertex_id);

// /config: the dashboard's configuration (DashboardConfiguration).
nlohmann::json DashboardConfigJson(int64_t now_unix_ms);
// /overview: one process that runs one job (ClusterOverviewWithVersion).
nlohmann::json OverviewJson(JobRuntime& job);
// /jobs (JobIdsWithStatusOverview) and /jobs/overview (MultipleJobsDetails).
nlohmann::json JobsJson(JobRuntime& job);
nlohmann::json JobsOverviewJson(JobRuntime& job, int64_t now_unix_ms);
// /jobs/<id> (JobDetailsInfo).
nlohmann::json JobJson(JobRuntime& job, int64_t now_unix_ms);
// /jobs/<id>/vertices/<vid> (JobVertexDetailsInfo).
nlohmann::json VertexJson(JobRuntime& job, size_t vertex, int64_t now_unix_ms);
// GET /jobs/:id/vertices/:vid/watermarks (Flink's): each subtask's current input watermark and
// its chain's output watermark, as metric entries.
nlohmann::json VertexWatermarksJson(JobRuntime& job, size_t vertex);
// /jobs/<id>/exceptions (JobExceptionsInfoWithHistory).
nlohmann::json ExceptionsJson(JobRuntime& job);

// /jobs/<id>/checkpoints (CheckpointingStatistics). A job without checkpointing answers with zero
// counts and an empty history.
nlohmann::json CheckpointsJson(JobRuntime& job, int64_t now_unix_ms);
// /jobs/<id>/checkpoints/details/<n> (CheckpointStatistics with its tasks; weir adds `subtasks`).
nlohmann::json CheckpointDetailJson(JobRuntime& job, const CheckpointStats& c, int64_t now_unix_ms);
// /jobs/<id>/checkpoints/details/<n>/subtasks/<vid> (TaskCheckpointStatisticsWithSubtaskDetails).
nlohmann::json TaskCheckpointDetailJson(JobRuntime& job, const CheckpointStats& c, size_t vertex,
                                        int64_t now_unix_ms);
// /jobs/<id>/checkpoints/config (CheckpointConfigInfo).
nlohmann::json CheckpointConfigJson(const Configuration& config);
// What the job's checkpoint history keeps in storage: per retained checkpoint the bytes it wrote
// itself and those it inherits from earlier checkpoints, the files in shared/, the files in the
// job's log directory (with dstl.dfs.base-path), and the total size of both directories (listed)
// against the live state size (the latest checkpoint's full size). weir's own endpoint
// (/jobs/<id>/checkpoints/storage).
nlohmann::json CheckpointStorageJson(JobRuntime& job);
// {"errors": [message]}, as Flink answers errors.
nlohmann::json ErrorJson(const std::string& message);

}  // namespace weir::web
