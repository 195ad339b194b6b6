// Configuration: weir's settings as key/value pairs, with Flink's key names where they exist.
// The options every part of a job shares are declared here (as Flink's core module declares
// its CheckpointingOptions and RestartStrategyOptions); a module's own options are declared in
// the module (RocksDB tuning in src/state/rocksdb/, S3 in src/io/s3/, the REST server in
// src/web/). All of them are listed in one registry (src/config/option_registry.cc), against
// which Set validates: an unknown key or a value of the wrong type is an InvalidArgument that
// names the key and the value. docs/configuration.md is rendered from the same registry.
// A plain value: copy it freely.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "weir/config_option.h"
#include "weir/status.h"

namespace weir {

enum class CheckpointingMode { kExactlyOnce, kAtLeastOnce };
enum class CheckpointRetention { kRetainOnCancellation, kDeleteOnCancellation };
enum class RestartStrategy { kFixedDelay, kNone };
enum class RestoreMode { kClaim, kNoClaim };

namespace config {

// A name rather than an enum: backends register themselves by name (src/state/state_backends.cc),
// and a job checks the name against them before anything runs.
inline constexpr ConfigOption<std::string_view> kBackendType{
    .key = "state.backend.type",
    .default_value = "rocksdb",
    .description =
        "Keyed state backend: `rocksdb` (embedded RocksDB, state may exceed memory; full or "
        "incremental checkpoints) or `hashmap` (objects in memory, fastest for state that fits; "
        "always full checkpoints, `state.backend.incremental` is ignored). Full checkpoints of "
        "either restore into the other. Flink 1.x's older `state.backend` is accepted too.",
    .flink_key = "state.backend"};
inline constexpr ConfigOption<bool> kIncremental{
    .key = "state.backend.incremental",
    .default_value = false,
    .description =
        "Take incremental checkpoints (upload only new RocksDB SSTs) instead of full ones; see "
        "checkpoints.md.",
    .flink_key = "state.backend.incremental",
    .flink2_key = "execution.checkpointing.incremental"};
inline constexpr ConfigOption<int64_t> kTransferThreads{
    .key = "state.backend.rocksdb.checkpoint.transfer.thread.num",
    .default_value = 4,
    .description = "Threads that upload a backend's checkpoint files and fetch them on restore.",
    .flink_key = "state.backend.rocksdb.checkpoint.transfer.thread.num",
    .min = 1,
    .max = 256};
inline constexpr ConfigOption<std::string_view> kLocalDir{
    .key = "state.backend.rocksdb.localdir",
    .default_value = "",
    .description =
        "Where subtasks keep their RocksDB working directories: a new owner-only directory "
        "`<dir>/weir-<job id prefix>-<random>/` per run (never a path that existed before), with "
        "`<operator uid>_<subtask>` inside, removed when the job ends.",
    .flink_key = "state.backend.rocksdb.localdir"};
// Declared here rather than with the other cluster keys (src/cluster/cluster_options.h, which
// lists it) because operators read it: it names what a job shares across its processes.
inline constexpr ConfigOption<std::string_view> kClusterJob{
    .key = "cluster.job",
    .default_value = "",
    .description =
        "The job's name across its processes (`weir worker --job NAME` sets it). Names what the "
        "processes share: the etcd keys, the checkpoint directory `<dir>/<job>/shards/` and the "
        "repartition streams `<job>-<name>` of a second keyBy. Empty under `weir run`, where a "
        "repartition stream is named after the job id."};
inline constexpr ConfigOption<bool> kLocalRecovery{
    .key = "state.backend.local-recovery",
    .default_value = false,
    .description =
        "Local recovery, with incremental RocksDB checkpoints: each backend keeps the files of its "
        "latest checkpoints in `<state.backend.rocksdb.localdir or $TMPDIR>/weir-local-recovery-"
        "<uid>/<job id or worker shard>/<backend id>/chk-<N>/` (hard links: disk, not I/O), and a "
        "restore takes every file whose local copy has the recorded size and checksum from there "
        "instead of the checkpoint storage. `weir worker` with a fixed `--id` also keeps its etcd "
        "lease id in a file beside its local state, so that a process restarted within the lease's "
        "TTL takes the lease back, keeps its shards and restores them from its local copies. "
        "Deleted when the job (or the shard's run) ends; see checkpoints.md.",
    .flink_key = "state.backend.local-recovery"};
inline constexpr ConfigOption<int64_t> kNumRetained{
    .key = "state.checkpoints.num-retained",
    .default_value = 1,
    .description =
        "Completed checkpoints kept; older ones are subsumed and files no retained checkpoint "
        "needs are deleted.",
    .flink_key = "state.checkpoints.num-retained",
    .flink2_key = "execution.checkpointing.num-retained",
    .min = 1,
    .max = 1000000};
inline constexpr ConfigOption<std::string_view> kCheckpointsDir{
    .key = "state.checkpoints.dir",
    .default_value = "",
    .description =
        "Checkpoint storage: a local path or `s3://bucket/prefix` (see the `s3.*` keys); each job "
        "writes to `<dir>/<job-id>/`; required when checkpointing is on (except when claiming a "
        "checkpoint, whose directory is used).",
    .flink_key = "state.checkpoints.dir",
    .flink2_key = "execution.checkpointing.dir"};
inline constexpr ConfigOption<std::string_view> kSavepointsDir{
    .key = "state.savepoints.dir",
    .default_value = "",
    .description =
        "Default target of savepoints (a local path or `s3://bucket/prefix`): each goes to a new "
        "directory `<dir>/savepoint-<short job id>-<random>/` (docs/savepoints.md). Flink 2's "
        "`execution.checkpointing.savepoint-dir` is accepted too.",
    .flink_key = "state.savepoints.dir",
    .flink2_key = "execution.checkpointing.savepoint-dir"};
inline constexpr ConfigOption<bool> kFallbackToOlder{
    .key = "state.checkpoints.fallback-to-older",
    .default_value = false,
    .description =
        "When the checkpoint a job restores is damaged (a file missing, truncated or corrupt), "
        "restore the newest intact older checkpoint of the same job directory instead, and log "
        "which; off: the job fails naming the damaged file. Needs `num-retained` > 1 to have an "
        "older checkpoint; output the sink committed after the older checkpoint is written again."};
inline constexpr ConfigOption<bool> kOwnerOnly{
    .key = "state.checkpoints.owner-only",
    .default_value = true,
    .description =
        "Checkpoint directories are created `0700` and files `0600`, so only the job's user can "
        "read its state; `false`: `0755` / `0644` (both before the umask)."};
inline constexpr ConfigOption<int64_t> kMaxParallelism{
    .key = "pipeline.max-parallelism",
    .default_value = 128,
    .description = "Number of key groups, the upper bound of a keyed operator's parallelism.",
    .flink_key = "pipeline.max-parallelism",
    .min = 1,
    .max = 32768};
inline constexpr ConfigOption<int64_t> kParallelism{
    .key = "parallelism.default",
    .default_value = 1,
    .description = "Parallelism of operators that do not set their own.",
    .flink_key = "parallelism.default",
    .min = 1,
    .max = 1024};
inline constexpr ConfigOption<int64_t> kChannelCapacity{
    .key = "pipeline.channel-capacity",
    .default_value = 1024,
    .description =
        "Records a channel between two subtasks holds before the sender blocks (backpressure). "
        "A checkpoint barrier waits behind every record queued before it: more records raise "
        "the checkpoint's duration and the latency under load, fewer cost throughput.",
    .min = 16,
    .max = 1 << 24};
inline constexpr ConfigOption<std::chrono::milliseconds> kInterval{
    .key = "execution.checkpointing.interval",
    .default_value = std::chrono::milliseconds(0),
    .description =
        "Time between periodic checkpoints; `0` turns checkpointing off (a bounded job then "
        "commits its output at the end of input).",
    .flink_key = "execution.checkpointing.interval"};
inline constexpr EnumChoice<CheckpointingMode> kCheckpointingModes[] = {
    {CheckpointingMode::kExactlyOnce, "EXACTLY_ONCE"},
    {CheckpointingMode::kAtLeastOnce, "AT_LEAST_ONCE"}};
inline constexpr ConfigOption<CheckpointingMode> kMode{
    .key = "execution.checkpointing.mode",
    .default_value = CheckpointingMode::kExactlyOnce,
    .description =
        "`EXACTLY_ONCE` aligns the barriers of a subtask's input channels; `AT_LEAST_ONCE` does "
        "not hold channels back (records after a barrier may be in the snapshot and are then "
        "replayed twice after a failure).",
    .flink_key = "execution.checkpointing.mode",
    .choices = kCheckpointingModes};
inline constexpr ConfigOption<bool> kUnaligned{
    .key = "execution.checkpointing.unaligned",
    .default_value = false,
    .description =
        "Flink's unaligned checkpoints. weir's barriers are always aligned (exactly-once) or not "
        "waited for (`execution.checkpointing.mode: AT_LEAST_ONCE`): `false` is accepted, `true` "
        "is refused.",
    .flink_key = "execution.checkpointing.unaligned",
    .flink2_key = "execution.checkpointing.unaligned.enabled"};
inline constexpr ConfigOption<std::chrono::milliseconds> kMinPause{
    .key = "execution.checkpointing.min-pause",
    .default_value = std::chrono::milliseconds(0),
    .description =
        "Least time between the end of one checkpoint and the trigger of the next (implies one "
        "checkpoint at a time).",
    .flink_key = "execution.checkpointing.min-pause"};
inline constexpr ConfigOption<std::chrono::milliseconds> kTimeout{
    .key = "execution.checkpointing.timeout",
    .default_value = std::chrono::minutes(10),
    .description = "A checkpoint not complete after this long is aborted and counts as failed.",
    .flink_key = "execution.checkpointing.timeout"};
inline constexpr ConfigOption<int64_t> kMaxConcurrent{
    .key = "execution.checkpointing.max-concurrent-checkpoints",
    .default_value = 1,
    .description = "Checkpoints that may be in progress at once.",
    .flink_key = "execution.checkpointing.max-concurrent-checkpoints",
    .min = 1,
    .max = 1000};
inline constexpr ConfigOption<int64_t> kTolerableFailures{
    .key = "execution.checkpointing.tolerable-failed-checkpoints",
    .default_value = 0,
    .description =
        "Consecutive failed checkpoints tolerated; one more fails the job (which may then "
        "restart).",
    .flink_key = "execution.checkpointing.tolerable-failed-checkpoints",
    .min = 0,
    .max = 1000000};
inline constexpr EnumChoice<CheckpointRetention> kRetentions[] = {
    {CheckpointRetention::kRetainOnCancellation, "RETAIN_ON_CANCELLATION"},
    {CheckpointRetention::kDeleteOnCancellation, "DELETE_ON_CANCELLATION"}};
inline constexpr ConfigOption<CheckpointRetention> kRetention{
    .key = "execution.checkpointing.externalized-checkpoint-retention",
    .default_value = CheckpointRetention::kRetainOnCancellation,
    .description =
        "When the job is cancelled (SIGINT/SIGTERM): keep its checkpoints, or "
        "`DELETE_ON_CANCELLATION`: delete what weir keeps in the job directory (`chk-*`, "
        "`shared/`, `taskowned/`, the marker), and the directory itself only if nothing else is in "
        "it.",
    .flink_key = "execution.checkpointing.externalized-checkpoint-retention",
    .choices = kRetentions};
inline constexpr EnumChoice<RestartStrategy> kRestartStrategies[] = {
    {RestartStrategy::kFixedDelay, "fixed-delay"}, {RestartStrategy::kNone, "none"}};
inline constexpr ConfigOption<RestartStrategy> kRestartStrategy{
    .key = "restart-strategy",
    .default_value = RestartStrategy::kFixedDelay,
    .description =
        "After a failure: fixed-delay restarts from the latest completed checkpoint; "
        "none stops.",
    .flink_key = "restart-strategy",
    .flink2_key = "restart-strategy.type",
    .choices = kRestartStrategies};
inline constexpr ConfigOption<int64_t> kRestartAttempts{
    .key = "restart-strategy.fixed-delay.attempts",
    .default_value = 3,
    .description = "Restarts allowed before the job fails for good.",
    .flink_key = "restart-strategy.fixed-delay.attempts",
    .min = 0,
    .max = 1000000};
inline constexpr ConfigOption<std::chrono::milliseconds> kRestartDelay{
    .key = "restart-strategy.fixed-delay.delay",
    .default_value = std::chrono::seconds(1),
    .description = "Wait between a failure and the restart.",
    .flink_key = "restart-strategy.fixed-delay.delay"};
inline constexpr ConfigOption<std::string_view> kSavepointPath{
    .key = "execution.savepoint.path",
    .default_value = "",
    .description =
        "Checkpoint or savepoint to resume from: its `_metadata` file, its `chk-N` directory or "
        "the savepoint's directory (`weir run -s`).",
    .flink_key = "execution.savepoint.path",
    .flink2_key = "execution.state-recovery.path"};
inline constexpr EnumChoice<RestoreMode> kRestoreModes[] = {{RestoreMode::kClaim, "CLAIM"},
                                                            {RestoreMode::kNoClaim, "NO_CLAIM"}};
inline constexpr ConfigOption<RestoreMode> kRestoreMode{
    .key = "execution.savepoint-restore-mode",
    .default_value = RestoreMode::kNoClaim,
    .description =
        "`NO_CLAIM` (Flink 2's default): new job id and directory, first checkpoint full, the "
        "restored files never touched; `CLAIM`: the resumed job owns the checkpoint (same job id "
        "and directory, incremental on top of it) (`weir run --restore-mode`). A savepoint is "
        "never claimed: a job resumed from one has a new job directory; only its first "
        "checkpoint's type follows the mode.",
    .flink_key = "execution.savepoint-restore-mode",
    .flink2_key = "execution.state-recovery.claim-mode",
    .choices = kRestoreModes};
inline constexpr ConfigOption<bool> kAllowNonRestoredState{
    .key = "execution.savepoint.ignore-unclaimed-state",
    .default_value = false,
    .description =
        "Resume from a checkpoint that holds state of operators the job no longer has, without "
        "that state (`weir run --allow-non-restored-state`, `-n`); otherwise such a restore is "
        "refused, naming the operators.",
    .flink_key = "execution.savepoint.ignore-unclaimed-state",
    .flink2_key = "execution.state-recovery.ignore-unclaimed-state"};
inline constexpr ConfigOption<int64_t> kStatsHistory{
    .key = "web.checkpoints.history",
    .default_value = 100,
    .description =
        "Checkpoints (completed, failed or in progress) whose statistics a running job keeps for "
        "its REST API.",
    .flink_key = "web.checkpoints.history",
    .min = 1,
    .max = 100000};

// The options above, for the registry (src/config/option_registry.cc).
inline std::vector<OptionDescriptor> CoreOptions() {
  return {
      Describe(kBackendType),     Describe(kIncremental),       Describe(kTransferThreads),
      Describe(kLocalDir),        Describe(kLocalRecovery),     Describe(kNumRetained),
      Describe(kCheckpointsDir),  Describe(kSavepointsDir),     Describe(kFallbackToOlder),
      Describe(kOwnerOnly),       Describe(kMaxParallelism),    Describe(kParallelism),
      Describe(kChannelCapacity), Describe(kInterval),          Describe(kMode),
      Describe(kUnaligned),       Describe(kMinPause),          Describe(kTimeout),
      Describe(kMaxConcurrent),   Describe(kTolerableFailures), Describe(kRetention),
      Describe(kRestartStrategy), Describe(kRestartAttempts),   Describe(kRestartDelay),
      Describe(kSavepointPath),   Describe(kRestoreMode),       Describe(kAllowNonRestoredState),
      Describe(kStatsHistory)};
}

}  // namespace config

class Configuration {
 public:
  // Validates the key (weir's, or the Flink 1.x or 2.x key an option mirrors) and the value;
  // stores the value under weir's key, an enum's in the spelling of its choices. A Flink key weir
  // has no use for is accepted and listed in ignored_flink_keys(); any other unknown key is an
  // error naming it, with the closest known key when one is near.
  Status Set(std::string_view key, std::string_view value);
  // Parses "key=value" (as given to -D).
  Status SetFromAssignment(std::string_view assignment);
  // Reads a YAML file: flat keys ("a.b: 1") or nested maps ({a: {b: 1}}), scalar values. An
  // unknown key or bad value is an error naming the file, the key and the value.
  Status LoadYamlFile(const std::string& path);
  // The same from text; `source` names it in errors.
  Status LoadYamlString(std::string_view text, const std::string& source);
  bool IsSet(std::string_view key) const { return values_.count(key) > 0; }

  // The option's value: what was set, else its default.
  template <typename T>
  OptionValue<T> Get(const ConfigOption<T>& option) const {
    if (auto it = values_.find(option.key); it != values_.end()) {
      // Set validated it: parsing again cannot fail.
      if (auto v = ParseOptionValue(option, it->second); v.ok()) return std::move(v).value();
    }
    return OptionValue<T>(option.default_value);
  }

  const std::map<std::string, std::string, std::less<>>& values() const { return values_; }
  // Flink keys that were set and that weir has no use for (cluster and deployment settings), in
  // the order first set; Set accepts them so that a Flink configuration file loads.
  const std::vector<std::string>& ignored_flink_keys() const { return ignored_; }

 private:
  std::map<std::string, std::string, std::less<>> values_;
  std::vector<std::string> ignored_;
};

}  // namespace weir
