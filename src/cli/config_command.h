// `weir config keys [--markdown]`: every configuration key weir accepts, with its type, default,
// the Flink key it mirrors and its meaning, from the option registry. `--markdown` prints the
// table of docs/configuration.md.
#pragma once

#include <CLI/CLI.hpp>

namespace weir::cli {

void AddConfigCommand(CLI::App& app, int& exit_code);

}  // namespace weir::cli
