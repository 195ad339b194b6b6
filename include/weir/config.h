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

enum class ConfigType { kBool, kInt, kString };

struct ConfigKey {
  std::string_view key;
  ConfigType type;
  std::string_view default_value;
  int64_t min = 0;  // for kInt
  int64_t max = 0;  // for kInt
  std::string_view description;
};

namespace config {
inline constexpr std::string_view kIncremental = "state.backend.incremental";
inline constexpr std::string_view kTransferThreads =
    "state.backend.rocksdb.checkpoint.transfer.thread.num";
inline constexpr std::string_view kNumRetained = "state.checkpoints.num-retained";
inline constexpr std::string_view kCheckpointsDir = "state.checkpoints.dir";
}  // namespace config

// Every key weir accepts.
const std::vector<ConfigKey>& KnownConfigKeys();

class Configuration {
 public:
  // Validates the key and the value.
  Status Set(std::string_view key, std::string_view value);
  // Parses "key=value" (as given to -D).
  Status SetFromAssignment(std::string_view assignment);

  bool GetBool(std::string_view key) const;
  int64_t GetInt(std::string_view key) const;
  std::string GetString(std::string_view key) const;

  const std::map<std::string, std::string, std::less<>>& values() const { return values_; }

 private:
  std::string Raw(std::string_view key) const;
  std::map<std::string, std::string, std::less<>> values_;
};

}  // namespace weir
