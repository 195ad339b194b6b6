// Configuration: weir's settings as key/value pairs, with Flink's key names where they exist.
// Every key weir knows is declared once (kConfigKeys, listed with its default in
// docs/configuration.md); setting an unknown key or a value of the wrong type is an
// InvalidArgument that names the key and the value. A plain value: copy it freely.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "weir/status.h"

namespace weir {

// kDuration values are an integer with an optional unit: "500ms", "10 s", "2min", "1h" (no unit:
// milliseconds); kEnum values are one of `choices` ("A|B|C"), compared ignoring case and with
// '-' and '_' treated alike, and read back in the spelling of `choices`.
enum class ConfigType { kBool, kInt, kString, kDuration, kEnum };

struct ConfigKey {
  std::string_view key;
  ConfigType type;
  std::string_view default_value;
  int64_t min = 0;  // for kInt
  int64_t max = 0;  // for kInt
  std::string_view description;
  std::string_view choices = {};  // for kEnum
};

namespace config {
inline constexpr std::string_view kBackendType = "state.backend.type";
inline constexpr std::string_view kIncremental = "state.backend.incremental";
inline constexpr std::string_view kTransferThreads =
    "state.backend.rocksdb.checkpoint.transfer.thread.num";
inline constexpr std::string_view kAsyncFlush = "state.backend.rocksdb.checkpoint.async-flush";
inline constexpr std::string_view kCompactionStyle = "state.backend.rocksdb.compaction.style";
inline constexpr std::string_view kLevel0Trigger =
    "state.backend.rocksdb.compaction.level0-file-num-trigger";
inline constexpr std::string_view kMaxSizeAmplification =
    "state.backend.rocksdb.compaction.universal.max-size-amplification-percent";
inline constexpr std::string_view kNumRetained = "state.checkpoints.num-retained";
inline constexpr std::string_view kCheckpointsDir = "state.checkpoints.dir";
inline constexpr std::string_view kFallbackToOlder = "state.checkpoints.fallback-to-older";
inline constexpr std::string_view kOwnerOnly = "state.checkpoints.owner-only";
inline constexpr std::string_view kLocalDir = "state.backend.rocksdb.localdir";
inline constexpr std::string_view kMaxParallelism = "pipeline.max-parallelism";
inline constexpr std::string_view kParallelism = "parallelism.default";
inline constexpr std::string_view kChannelCapacity = "pipeline.channel-capacity";
inline constexpr std::string_view kInterval = "execution.checkpointing.interval";
inline constexpr std::string_view kMode = "execution.checkpointing.mode";
inline constexpr std::string_view kMinPause = "execution.checkpointing.min-pause";
inline constexpr std::string_view kTimeout = "execution.checkpointing.timeout";
inline constexpr std::string_view kMaxConcurrent =
    "execution.checkpointing.max-concurrent-checkpoints";
inline constexpr std::string_view kTolerableFailures =
    "execution.checkpointing.tolerable-failed-checkpoints";
inline constexpr std::string_view kRetention =
    "execution.checkpointing.externalized-checkpoint-retention";
inline constexpr std::string_view kRestartStrategy = "restart-strategy";
inline constexpr std::string_view kRestartAttempts = "restart-strategy.fixed-delay.attempts";
inline constexpr std::string_view kRestartDelay = "restart-strategy.fixed-delay.delay";
inline constexpr std::string_view kSavepointPath = "execution.savepoint.path";
inline constexpr std::string_view kRestoreMode = "execution.savepoint-restore-mode";
inline constexpr std::string_view kStatsHistory = "web.checkpoints.history";
inline constexpr std::string_view kRestEnabled = "rest.enabled";
inline constexpr std::string_view kRestAddress = "rest.bind-address";
inline constexpr std::string_view kRestPort = "rest.port";
inline constexpr std::string_view kS3Endpoint = "s3.endpoint";
inline constexpr std::string_view kS3Region = "s3.region";
inline constexpr std::string_view kS3PathStyle = "s3.path-style-access";
inline constexpr std::string_view kS3AccessKey = "s3.access-key";
inline constexpr std::string_view kS3SecretKey = "s3.secret-key";
inline constexpr std::string_view kS3PartSize = "s3.upload.part-size";
inline constexpr std::string_view kS3MaxConnections = "s3.max-connections";
inline constexpr std::string_view kS3RequestTimeout = "s3.request-timeout";
}  // namespace config

// Every key weir accepts.
const std::vector<ConfigKey>& KnownConfigKeys();

class Configuration {
 public:
  // Validates the key and the value.
  Status Set(std::string_view key, std::string_view value);
  // Parses "key=value" (as given to -D).
  Status SetFromAssignment(std::string_view assignment);
  // Reads a YAML file: flat keys ("a.b: 1") or nested maps ({a: {b: 1}}), scalar values. An
  // unknown key or bad value is an error naming the file, the key and the value.
  Status LoadYamlFile(const std::string& path);
  // The same from text; `source` names it in errors.
  Status LoadYamlString(std::string_view text, const std::string& source);
  bool IsSet(std::string_view key) const { return values_.count(key) > 0; }

  bool GetBool(std::string_view key) const;
  int64_t GetInt(std::string_view key) const;
  int64_t GetDurationMs(std::string_view key) const;
  // For kEnum keys: the value in the spelling of the key's choices.
  std::string GetString(std::string_view key) const;

  const std::map<std::string, std::string, std::less<>>& values() const { return values_; }

 private:
  std::string Raw(std::string_view key) const;
  std::map<std::string, std::string, std::less<>> values_;
};

}  // namespace weir
