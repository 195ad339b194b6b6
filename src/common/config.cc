#include "weir/config.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace weir {
namespace {

const ConfigKey* Find(std::string_view key) {
  for (const auto& k : KnownConfigKeys()) {
    if (k.key == key) return &k;
  }
  return nullptr;
}

bool ParseBool(std::string_view v, bool* out) {
  if (v == "true") return *out = true, true;
  if (v == "false") return *out = false, true;
  return false;
}

bool ParseInt(std::string_view v, int64_t* out) {
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), *out);
  return ec == std::errc() && end == v.data() + v.size() && !v.empty();
}

constexpr int64_t kMaxDurationMs = 1'000'000'000'000'000;

bool ParseDurationMs(std::string_view v, int64_t* out) {
  size_t digits = 0;
  while (digits < v.size() && std::isdigit(static_cast<unsigned char>(v[digits]))) ++digits;
  int64_t n = 0;
  if (digits == 0 || !ParseInt(v.substr(0, digits), &n)) return false;
  std::string_view unit = v.substr(digits);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  int64_t scale = 0;
  if (unit.empty() || unit == "ms" || unit == "milli" || unit == "millis") scale = 1;
  if (unit == "s" || unit == "sec" || unit == "secs" || unit == "second" || unit == "seconds")
    scale = 1000;
  if (unit == "min" || unit == "mins" || unit == "minute" || unit == "minutes") scale = 60000;
  if (unit == "h" || unit == "hour" || unit == "hours") scale = 3600000;
  // Refused beyond ~31,000 years: a deadline computed as now + duration (in ms or µs) must
  // never overflow into the past.
  if (scale == 0 || n > kMaxDurationMs / scale) return false;
  *out = n * scale;
  return true;
}

std::string NormalizeChoice(std::string_view v) {
  std::string out;
  for (char c : v) out.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(c)));
  return out;
}

// The spelling in `choices` of `v`, or empty.
std::string MatchChoice(std::string_view choices, std::string_view v) {
  size_t start = 0;
  while (start <= choices.size()) {
    size_t end = choices.find('|', start);
    if (end == std::string_view::npos) end = choices.size();
    const std::string_view choice = choices.substr(start, end - start);
    if (NormalizeChoice(choice) == NormalizeChoice(v)) return std::string(choice);
    start = end + 1;
  }
  return {};
}

// Bounds of a configuration file: a recursive alias or an alias bomb is an error, not a crash
// or an endless expansion.
constexpr int kMaxYamlDepth = 32;
constexpr size_t kMaxYamlEntries = 10000;
constexpr size_t kMaxConfigFileBytes = 1 << 20;

Status FlattenYaml(const YAML::Node& node, const std::string& prefix, int depth,
                   std::vector<std::pair<std::string, YAML::Node>>* out) {
  if (depth > kMaxYamlDepth) {
    return Status::InvalidArgument("key '" + prefix.substr(0, 200) + "…' is nested deeper than " +
                                   std::to_string(kMaxYamlDepth) + " levels (a recursive alias?)");
  }
  if (node.IsMap()) {
    for (const auto& kv : node) {
      const std::string key = kv.first.as<std::string>();
      WEIR_RETURN_IF_ERROR(
          FlattenYaml(kv.second, prefix.empty() ? key : prefix + "." + key, depth + 1, out));
    }
  } else {
    if (out->size() >= kMaxYamlEntries) {
      return Status::InvalidArgument("more than " + std::to_string(kMaxYamlEntries) +
                                     " settings (an alias expanding without end?)");
    }
    out->emplace_back(prefix, node);
  }
  return Status::OK();
}

}  // namespace

const std::vector<ConfigKey>& KnownConfigKeys() {
  static const std::vector<ConfigKey> keys = {
      {config::kBackendType, ConfigType::kEnum, "rocksdb", 0, 0,
       "Keyed state backend: rocksdb (embedded RocksDB; full or incremental checkpoints) or "
       "hashmap (objects in memory; full checkpoints).",
       "rocksdb|hashmap"},
      {config::kIncremental, ConfigType::kBool, "false", 0, 0,
       "Take incremental checkpoints (upload only new RocksDB files) instead of full ones."},
      {config::kTransferThreads, ConfigType::kInt, "4", 1, 256,
       "Threads that upload (and, on restore, download) a backend's checkpoint files."},
      {config::kAsyncFlush, ConfigType::kBool, "true", 0, 0,
       "Flush the memtables of an incremental checkpoint in its asynchronous part (false: in the "
       "synchronous part, pausing the task)."},
      {config::kCompactionStyle, ConfigType::kEnum, "LEVEL", 0, 0,
       "RocksDB compaction style of keyed state.", "LEVEL|UNIVERSAL"},
      {config::kLevel0Trigger, ConfigType::kInt, "4", 1, 1000,
       "L0 files (LEVEL) or sorted runs (UNIVERSAL) that start a compaction."},
      {config::kMaxSizeAmplification, ConfigType::kInt, "200", 1, 100000,
       "UNIVERSAL: merge all runs when the older ones exceed the newest by this percentage."},
      {config::kNumRetained, ConfigType::kInt, "1", 1, 1000000,
       "Completed checkpoints kept; older ones are subsumed and their unshared files deleted."},
      {config::kCheckpointsDir, ConfigType::kString, "", 0, 0,
       "Directory of checkpoint storage; each job writes to <dir>/<job-id>/."},
      {config::kFallbackToOlder, ConfigType::kBool, "false", 0, 0,
       "When the checkpoint to restore is damaged, restore the newest intact older one instead."},
      {config::kOwnerOnly, ConfigType::kBool, "true", 0, 0,
       "Create checkpoint directories 0700 and files 0600 (false: 0755 / 0644, before umask)."},
      {config::kLocalDir, ConfigType::kString, "", 0, 0,
       "Where subtasks keep their RocksDB working directories; empty: <system "
       "temp>/weir-<job-id prefix>-<random>, created owner-only for each run."},
      {config::kMaxParallelism, ConfigType::kInt, "128", 1, 32768,
       "Number of key groups: the upper bound of any keyed operator's parallelism."},
      {config::kParallelism, ConfigType::kInt, "1", 1, 1024,
       "Parallelism of operators that do not set their own."},
      {config::kChannelCapacity, ConfigType::kInt, "4096", 16, 1 << 24,
       "Records a channel between two subtasks holds before the sender blocks (backpressure)."},
      {config::kInterval, ConfigType::kDuration, "0", 0, 0,
       "Time between periodic checkpoints; 0 turns checkpointing off."},
      {config::kMode, ConfigType::kEnum, "EXACTLY_ONCE", 0, 0,
       "EXACTLY_ONCE aligns barriers of several inputs; AT_LEAST_ONCE does not hold inputs back.",
       "EXACTLY_ONCE|AT_LEAST_ONCE"},
      {config::kMinPause, ConfigType::kDuration, "0", 0, 0,
       "Least time between the end of one checkpoint and the trigger of the next."},
      {config::kTimeout, ConfigType::kDuration, "10min", 0, 0,
       "A checkpoint not complete after this long is aborted (and counts as failed)."},
      {config::kMaxConcurrent, ConfigType::kInt, "1", 1, 1000,
       "Checkpoints that may be in progress at the same time."},
      {config::kTolerableFailures, ConfigType::kInt, "0", 0, 1000000,
       "Consecutive failed checkpoints tolerated; one more fails the job (then it may restart)."},
      {config::kRetention, ConfigType::kEnum, "RETAIN_ON_CANCELLATION", 0, 0,
       "What happens to the job's checkpoints when it is cancelled (SIGINT/SIGTERM).",
       "RETAIN_ON_CANCELLATION|DELETE_ON_CANCELLATION"},
      {config::kRestartStrategy, ConfigType::kEnum, "fixed-delay", 0, 0,
       "After a failure: fixed-delay restarts from the latest completed checkpoint; none stops.",
       "fixed-delay|none"},
      {config::kRestartAttempts, ConfigType::kInt, "3", 0, 1000000,
       "Restarts fixed-delay allows before the job fails for good."},
      {config::kRestartDelay, ConfigType::kDuration, "1s", 0, 0,
       "Wait between a failure and the restart."},
      {config::kSavepointPath, ConfigType::kString, "", 0, 0,
       "Checkpoint to resume from (what `weir run -s PATH` sets)."},
      {config::kRestoreMode, ConfigType::kEnum, "CLAIM", 0, 0,
       "CLAIM: the resumed job owns the checkpoint; NO_CLAIM: it never touches it.",
       "CLAIM|NO_CLAIM"},
      {config::kStatsHistory, ConfigType::kInt, "100", 1, 100000,
       "Checkpoints whose statistics a running job keeps (REST API, dashboard)."},
      {config::kRestEnabled, ConfigType::kBool, "true", 0, 0,
       "Serve the REST API, the dashboard and /metrics while the job runs."},
      {config::kRestAddress, ConfigType::kString, "127.0.0.1", 0, 0,
       "Address the REST server binds."},
      {config::kRestPort, ConfigType::kInt, "8081", 0, 65535,
       "Port of the REST server; 0 picks a free port (logged)."},
      {config::kS3Endpoint, ConfigType::kString, "", 0, 0,
       "S3 endpoint URL for s3:// paths, e.g. http://127.0.0.1:7480; empty: AWS "
       "(https://s3.<region>.amazonaws.com)."},
      {config::kS3Region, ConfigType::kString, "us-east-1", 0, 0,
       "Region that requests are signed for (AWS Signature V4)."},
      {config::kS3PathStyle, ConfigType::kBool, "false", 0, 0,
       "Address buckets as <endpoint>/<bucket> (Ceph RGW, MinIO) instead of <bucket>.<endpoint>."},
      {config::kS3AccessKey, ConfigType::kString, "", 0, 0,
       "S3 access key; empty: the AWS_ACCESS_KEY_ID environment variable."},
      {config::kS3SecretKey, ConfigType::kString, "", 0, 0,
       "S3 secret key; empty: the AWS_SECRET_ACCESS_KEY environment variable. Never logged."},
      {config::kS3PartSize, ConfigType::kInt, "16777216", 5 << 20, int64_t{1} << 32,
       "Bytes per part of a multipart upload; smaller files are one PUT."},
      {config::kS3MaxConnections, ConfigType::kInt, "16", 1, 1024,
       "HTTP connections kept open to the S3 endpoint (and requests in flight at most)."},
      {config::kS3RequestTimeout, ConfigType::kDuration, "2min", 0, 0,
       "Time limit of one S3 request; a stalled or timed-out request is retried with backoff."},
  };
  return keys;
}

Status Configuration::Set(std::string_view key, std::string_view value) {
  const ConfigKey* k = Find(key);
  if (k == nullptr)
    return Status::InvalidArgument("unknown configuration key '" + std::string(key) + "'");
  const auto bad = [&](const std::string& expected) {
    return Status::InvalidArgument("configuration key '" + std::string(key) + "': value '" +
                                   std::string(value) + "' is not " + expected);
  };
  switch (k->type) {
    case ConfigType::kBool: {
      bool b;
      if (!ParseBool(value, &b)) return bad("true or false");
      break;
    }
    case ConfigType::kInt: {
      int64_t i;
      if (!ParseInt(value, &i) || i < k->min || i > k->max) {
        return bad("an integer in " + std::to_string(k->min) + ".." + std::to_string(k->max));
      }
      break;
    }
    case ConfigType::kString:
      break;
    case ConfigType::kDuration: {
      int64_t ms;
      if (!ParseDurationMs(value, &ms)) return bad("a duration such as 500ms, 10s, 5min or 1h");
      break;
    }
    case ConfigType::kEnum: {
      const std::string choice = MatchChoice(k->choices, value);
      if (choice.empty()) return bad("one of " + std::string(k->choices));
      values_[std::string(key)] = choice;
      return Status::OK();
    }
  }
  values_[std::string(key)] = std::string(value);
  return Status::OK();
}

Status Configuration::SetFromAssignment(std::string_view assignment) {
  const size_t eq = assignment.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return Status::InvalidArgument("'" + std::string(assignment) + "' is not key=value");
  }
  return Set(assignment.substr(0, eq), assignment.substr(eq + 1));
}

Status Configuration::LoadYamlFile(const std::string& path) {
  // A regular file of bounded size: a FIFO or a device would block or never end.
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    return Status::NotFound("config file " + path + ": cannot be read");
  }
  if (!std::filesystem::is_regular_file(status)) {
    return Status::InvalidArgument("config file " + path + ": not a regular file");
  }
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size > kMaxConfigFileBytes) {
    return Status::InvalidArgument("config file " + path + ": larger than 1 MiB");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("config file " + path + ": cannot be read");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return LoadYamlString(text, "config file " + path);
}

Status Configuration::LoadYamlString(std::string_view text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(source + ": not valid YAML: " + e.what());
  }
  if (root.IsNull()) return Status::OK();
  if (!root.IsMap()) return Status::InvalidArgument(source + ": not a YAML map");
  std::vector<std::pair<std::string, YAML::Node>> entries;
  try {
    if (Status s = FlattenYaml(root, "", 0, &entries); !s.ok()) {
      return Status::InvalidArgument(source + ": " + s.message());
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(source + ": " + e.what());
  }
  // All or nothing: a file with one bad entry changes no setting.
  Configuration staged = *this;
  for (const auto& [key, node] : entries) {
    if (!node.IsScalar()) {
      return Status::InvalidArgument(source + ": key '" + key + "' must have a single value");
    }
    if (Status s = staged.Set(key, node.Scalar()); !s.ok()) {
      return Status::InvalidArgument(source + ": " + s.message());
    }
  }
  *this = std::move(staged);
  return Status::OK();
}

int64_t Configuration::GetDurationMs(std::string_view key) const {
  int64_t v = 0;
  ParseDurationMs(Raw(key), &v);
  return v;
}

std::string Configuration::Raw(std::string_view key) const {
  if (auto it = values_.find(key); it != values_.end()) return it->second;
  const ConfigKey* k = Find(key);
  return k == nullptr ? std::string() : std::string(k->default_value);
}

bool Configuration::GetBool(std::string_view key) const { return Raw(key) == "true"; }

int64_t Configuration::GetInt(std::string_view key) const {
  int64_t v = 0;
  const std::string raw = Raw(key);
  ParseInt(raw, &v);
  return v;
}

std::string Configuration::GetString(std::string_view key) const { return Raw(key); }

}  // namespace weir
