// `weir run [-s PATH] [--config FILE] [-D key=value]... [--restore-mode claim|no-claim] JOB
// [JOB-ARGS...]`: runs a bundled example job or a job library (.so) in this process.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "weir/job_plugin.h"
#include "weir/status.h"

namespace weir::cli {

void AddRunCommand(CLI::App& app, int& exit_code);

// A bundled job's name, or a path to a job library (loaded and kept loaded).
Result<JobMain> FindJob(const std::string& job);

}  // namespace weir::cli
