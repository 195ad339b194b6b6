// The JSON documents of the REST API, modelled on Flink's (/jobs, /jobs/<id>,
// /jobs/<id>/checkpoints, …/details/<n>, …/config), built from a running job's state. Field names
// use Flink's spelling where Flink has the field.
#pragma once

#include <nlohmann/json.hpp>

#include "runtime/job_runtime.h"

namespace weir::web {

nlohmann::json JobsJson(JobRuntime& job);
nlohmann::json JobJson(JobRuntime& job, int64_t now_unix_ms);
// nullopt-free: a job without checkpointing answers with zero counts and empty history.
nlohmann::json CheckpointsJson(const CheckpointStatsSnapshot& stats, int64_t now_unix_ms);
nlohmann::json CheckpointDetailJson(const CheckpointStats& c, int64_t now_unix_ms);
nlohmann::json CheckpointConfigJson(const Configuration& config);
// What the job's checkpoint history keeps in storage: per retained checkpoint the bytes it wrote
// itself and those it inherits from earlier checkpoints, the files in shared/, and the job
// directory's total size (listed) against the live state size (the latest checkpoint's full
// size).
nlohmann::json CheckpointStorageJson(JobRuntime& job);
// {"errors": [message]}, as Flink answers errors.
nlohmann::json ErrorJson(const std::string& message);

}  // namespace weir::web
