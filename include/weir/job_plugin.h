// A job as a shared library, run with `weir run path/to/libmyjob.so [JOB-ARGS...]`.
//
// The library defines a function that builds the job's graph from its arguments and exports it
// with WEIR_JOB:
//
//   weir::Result<weir::JobGraph> BuildMyJob(const std::vector<std::string>& args) { ... }
//   WEIR_JOB(BuildMyJob)
//
// It is compiled against weir's public headers only (-I<weir>/include, -fPIC -shared); the
// connectors and the runtime come from the `weir` binary that loads it. docs/jobs.md shows a
// complete example.
#pragma once

#include <string>
#include <vector>

#include "weir/job_graph.h"
#include "weir/status.h"

namespace weir {
using JobMain = Result<JobGraph> (*)(const std::vector<std::string>& args);
}  // namespace weir

#define WEIR_JOB(build_function) \
  extern "C" weir::JobMain weir_job_main() { return &build_function; }
