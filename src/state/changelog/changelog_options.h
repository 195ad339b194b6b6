// The options of changelog checkpoints (state/changelog/): Flink's keys of the changelog state
// backend and of its file-system state-change log (DSTL).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "weir/config_option.h"

namespace weir {

enum class ChangelogStorage { kFilesystem };
enum class ChangelogRetryPolicy { kFixed, kNone };

namespace config {

inline constexpr ConfigOption<bool> kChangelogEnabled{
    .key = "state.backend.changelog.enabled",
    .default_value = false,
    .description =
        "Changelog checkpoints for any backend: every state write is also appended to a durable "
        "state-change log, a checkpoint only makes the log durable up to its barrier, and the "
        "backend is materialized in the background; see checkpoints.md.",
    .flink_key = "state.backend.changelog.enabled"};
inline constexpr EnumChoice<ChangelogStorage> kChangelogStorages[] = {
    {ChangelogStorage::kFilesystem, "filesystem"}};
inline constexpr ConfigOption<ChangelogStorage> kChangelogStorage{
    .key = "state.backend.changelog.storage",
    .default_value = ChangelogStorage::kFilesystem,
    .description =
        "Where the state-change log is kept: `filesystem` = files in the checkpoint storage's "
        "`shared/` (local or S3), like Flink's.",
    .flink_key = "state.backend.changelog.storage",
    .choices = kChangelogStorages};
inline constexpr ConfigOption<std::chrono::milliseconds> kChangelogMaterializeInterval{
    .key = "state.backend.changelog.periodic-materialize.interval",
    .default_value = std::chrono::minutes(10),
    .description =
        "How often a backend's state is materialized (written whole to `shared/`, in the "
        "background); recovery replays the log since the latest one, so a shorter interval "
        "means a shorter replay and more bytes written.",
    .flink_key = "state.backend.changelog.periodic-materialize.interval"};
inline constexpr ConfigOption<int64_t> kChangelogMaxFailures{
    .key = "state.backend.changelog.max-failures-allowed",
    .default_value = 3,
    .description =
        "Materializations that may fail in a row before the backend's checkpoints fail (each "
        "failure is retried at the next checkpoint).",
    .flink_key = "state.backend.changelog.max-failures-allowed",
    .min = 0,
    .max = 1000000};
inline constexpr ConfigOption<std::string_view> kChangelogBasePath{
    .key = "dstl.dfs.base-path",
    .default_value = "",
    .description =
        "Where the state-change log's files go: empty = the job directory's `shared/` (under "
        "state.checkpoints.dir); a path or s3:// URI on the checkpoints' storage = its "
        "<job id>/ subdirectory there (marked as weir's, recorded in the job directory; "
        "verify and gc follow it).",
    .flink_key = "dstl.dfs.base-path"};
inline constexpr ConfigOption<std::chrono::milliseconds> kChangelogPersistDelay{
    .key = "dstl.dfs.batch.persist-delay",
    .default_value = std::chrono::milliseconds(10),
    .description =
        "How long the log waits after a checkpoint asks for durability before it writes the "
        "batch, so that the requests of every backend of the process make one file.",
    .flink_key = "dstl.dfs.batch.persist-delay"};
inline constexpr ConfigOption<MemorySize> kChangelogPersistSize{
    .key = "dstl.dfs.batch.persist-size-threshold",
    .default_value = MemorySize{uint64_t{10} << 20},
    .description =
        "Changes not yet durable that make the log write a batch without waiting for a "
        "checkpoint (bounds the memory they hold).",
    .flink_key = "dstl.dfs.batch.persist-size-threshold",
    .min = 1};
inline constexpr ConfigOption<MemorySize> kChangelogMaxInFlight{
    .key = "dstl.dfs.upload.max-in-flight",
    .default_value = MemorySize{uint64_t{100} << 20},
    .description =
        "Changes handed to the log and not yet durable, at most, for all backends of the "
        "process: a task that would go past it waits (backpressure, in its checkpoints' "
        "synchronous part too) until batches are written, so a slow storage does not grow "
        "the log in memory. At least dstl.dfs.batch.persist-size-threshold.",
    .flink_key = "dstl.dfs.upload.max-in-flight",
    .min = 1};
inline constexpr EnumChoice<ChangelogRetryPolicy> kChangelogRetryPolicies[] = {
    {ChangelogRetryPolicy::kFixed, "fixed"}, {ChangelogRetryPolicy::kNone, "none"}};
inline constexpr ConfigOption<ChangelogRetryPolicy> kChangelogRetryPolicy{
    .key = "dstl.dfs.upload.retry-policy",
    .default_value = ChangelogRetryPolicy::kFixed,
    .description =
        "A log batch whose write fails with a transient error: `fixed` = retried up to "
        "`dstl.dfs.upload.max-attempts` times with backoff; `none` = not retried. A batch that "
        "still fails fails the checkpoints that wait for it.",
    .flink_key = "dstl.dfs.upload.retry-policy",
    .choices = kChangelogRetryPolicies};
inline constexpr ConfigOption<int64_t> kChangelogMaxAttempts{
    .key = "dstl.dfs.upload.max-attempts",
    .default_value = 3,
    .description = "Attempts to write a log batch under the `fixed` retry policy.",
    .flink_key = "dstl.dfs.upload.max-attempts",
    .min = 1,
    .max = 100};
inline constexpr ConfigOption<int64_t> kChangelogUploadThreads{
    .key = "dstl.dfs.upload.num-threads",
    .default_value = 5,
    .description =
        "Log batches written at the same time: a checkpoint's batch starts while batches the "
        "persist-size threshold started are still being written and synced; they count as "
        "durable in order.",
    .flink_key = "dstl.dfs.upload.num-threads",
    .min = 1,
    .max = 64};
inline constexpr ConfigOption<bool> kChangelogCompression{
    .key = "dstl.dfs.compression.enabled",
    .default_value = false,
    .description =
        "Compress log batches with lz4 (off by default, as in Flink): fewer bytes to the storage "
        "for CPU on the log writer's thread, which a busy machine takes from the tasks.",
    .flink_key = "dstl.dfs.compression.enabled"};

// The options above, for the registry (src/config/option_registry.cc).
inline std::vector<OptionDescriptor> ChangelogOptions() {
  return {Describe(kChangelogEnabled),
          Describe(kChangelogStorage),
          Describe(kChangelogMaterializeInterval),
          Describe(kChangelogMaxFailures),
          Describe(kChangelogBasePath),
          Describe(kChangelogPersistDelay),
          Describe(kChangelogPersistSize),
          Describe(kChangelogMaxInFlight),
          Describe(kChangelogRetryPolicy),
          Describe(kChangelogMaxAttempts),
          Describe(kChangelogUploadThreads),
          Describe(kChangelogCompression)};
}

}  // namespace config
}  // namespace weir
