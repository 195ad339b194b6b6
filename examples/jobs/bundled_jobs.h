// The example jobs bundled into the `weir` binary (`weir run wordcount …`).
#pragma once

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

}  // namespace weir::examples
