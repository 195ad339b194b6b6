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
// By weir's key or by the Flink key the option mirrors; nullptr when neither.
const OptionDescriptor* FindOption(std::string_view key);
// The table of docs/configuration.md: key, type, default, Flink key, meaning (with the allowed
// values).
std::string RenderOptionsMarkdown();

}  // namespace weir
