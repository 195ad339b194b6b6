#include "bundled_jobs.h"

namespace weir::examples {

const std::vector<BundledJob>& BundledJobs() {
  static const std::vector<BundledJob> jobs = {
      {"wordcount", "file source -> words -> count per word -> file sink of word,count",
       &BuildWordCount},
      {"keyed-aggregate",
       "generator of --events over --keys -> per-key count, sum, payload -> file sink",
       &BuildKeyedAggregate},
  };
  return jobs;
}

}  // namespace weir::examples
