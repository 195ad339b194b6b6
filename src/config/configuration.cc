#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "config/option_registry.h"
#include "weir/config.h"

namespace weir {
namespace {

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

Status Configuration::Set(std::string_view key, std::string_view value) {
  const OptionDescriptor* option = FindOption(key);
  if (option == nullptr) {
    if (IsFlinkKeyWeirIgnores(key)) {
      // A Flink configuration file loads as it is: weir reports what it leaves unused.
      if (std::find(ignored_.begin(), ignored_.end(), key) == ignored_.end()) {
        ignored_.emplace_back(key);
      }
      return Status::OK();
    }
    const std::string suggestion = SuggestKey(key);
    return Status::InvalidArgument(
        "unknown configuration key '" + std::string(key) + "'" +
        (suggestion.empty() ? std::string() : " (did you mean '" + suggestion + "'?)"));
  }
  // Parsed once here: an enum is stored in the spelling of its choices, under weir's key (a
  // Flink key an option mirrors is a synonym).
  WEIR_ASSIGN_OR_RETURN(std::string canonical, option->canonicalize(value));
  values_[std::string(option->key)] = std::move(canonical);
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

}  // namespace weir
