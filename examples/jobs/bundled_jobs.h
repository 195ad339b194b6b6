// The example jobs bundled into the `weir` binary (`weir run wordcount …`).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "weir/job_plugin.h"

namespace weir::examples {

struct BundledJob {
  std::string name;
  std::string summary;
  JobMain main;
};

const std::vector<BundledJob>& BundledJobs();
Result<JobGraph> BuildWordCount(const std::vector<std::string>& args);
Result<JobGraph> BuildKeyedAggregate(const std::vector<std::string>& args);
Result<JobGraph> BuildNatsAggregate(const std::vector<std::string>& args);
Result<JobGraph> BuildWindowedCount(const std::vector<std::string>& args);

// What keyed-aggregate observed in this process, for benchmarks: when its aggregate processed
// the first event since Reset() (recovery time to the first record), and the latency of every
// 16th event from its creation in the generator to its processing by the aggregate.
struct KeyedAggregateProbe {
  static void Reset();
  static std::optional<std::chrono::steady_clock::time_point> FirstEvent();
  static std::vector<double> LatenciesUs();
};

}  // namespace weir::examples
