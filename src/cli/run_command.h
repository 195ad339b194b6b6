// `weir run [-s PATH] [--config FILE] [-D key=value]... [--restore-mode claim|no-claim] JOB
// [JOB-ARGS...]`: runs a bundled example job or a job library (.so) in this process.
#pragma once

#include <CLI/CLI.hpp>

namespace weir::cli {

void AddRunCommand(CLI::App& app, int& exit_code);

}  // namespace weir::cli
