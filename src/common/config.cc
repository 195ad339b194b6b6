#include "weir/config.h"

#include <charconv>

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

}  // namespace

const std::vector<ConfigKey>& KnownConfigKeys() {
  static const std::vector<ConfigKey> keys = {
      {config::kIncremental, ConfigType::kBool, "false", 0, 0,
       "Take incremental checkpoints (upload only new RocksDB files) instead of full ones."},
      {config::kTransferThreads, ConfigType::kInt, "4", 1, 256,
       "Threads that upload (and, on restore, download) a backend's checkpoint files."},
      {config::kNumRetained, ConfigType::kInt, "1", 1, 1000000,
       "Completed checkpoints kept; older ones are subsumed and their unshared files deleted."},
      {config::kCheckpointsDir, ConfigType::kString, "", 0, 0,
       "Directory of checkpoint storage; each job writes to <dir>/<job-id>/."},
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
