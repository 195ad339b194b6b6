// `weir checkpoints …`: read-only tools over checkpoint directories.
#pragma once

#include <CLI/CLI.hpp>

namespace weir::cli {

// Adds `checkpoints list` and `checkpoints inspect` to `app`; each sets `exit_code` when run.
void AddCheckpointsCommand(CLI::App& app, int& exit_code);

}  // namespace weir::cli
