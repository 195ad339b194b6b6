// The option registry: every option weir knows, collected from the modules that declare them
// (include/weir/config.h for the options every part of a job shares, then each module's own).
// Configuration::Set validates against it; `weir config keys --markdown` renders it into
// docs/configuration.md, and a test keeps the two equal.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "weir/config_option.h"

namespace weir {

// In the order docs/configuration.md lists them: core, then module by module.
const std::vector<OptionDescriptor>& AllOptions();
// By weir's key or by the Flink key (1.x or 2.x) the option mirrors; nullptr when neither.
const OptionDescriptor* FindOption(std::string_view key);
// Whether `key` is one of Flink's that weir has no use for (cluster, deployment and runtime
// settings of a Flink cluster: `jobmanager.*`, `taskmanager.*`, `high-availability.*`, …): a
// Flink configuration file with them loads, each reported once.
bool IsFlinkKeyWeirIgnores(std::string_view key);
// The registered key closest to an unknown `key` (a few edits away), or empty.
std::string SuggestKey(std::string_view key);
// The table of docs/configuration.md: key, type, default, Flink key, meaning (with the allowed
// values).
std::string RenderOptionsMarkdown();

}  // namespace weir
