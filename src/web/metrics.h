// A running job's metrics in the Prometheus text exposition format (version 0.0.4), served at
// /metrics. Names and meanings: docs/metrics.md.
#pragma once

#include <string>

#include "runtime/job_runtime.h"

namespace weir::web {

std::string PrometheusText(JobRuntime& job, int64_t now_unix_ms);

}  // namespace weir::web
