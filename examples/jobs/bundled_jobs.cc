#include "bundled_jobs.h"

namespace weir::examples {

const std::vector<BundledJob>& BundledJobs() {
  static const std::vector<BundledJob> jobs = {
      {"wordcount", "file source -> words -> count per word -> file sink of word,count",
       &BuildWordCount},
      {"keyed-aggregate",
       "generator of --events over --keys -> per-key count, sum, payload -> file sink",
       &BuildKeyedAggregate},
      {"nats-aggregate",
       "JetStream stream --input of key,value -> per-key count, sum -> stream --output, "
       "exactly once",
       &BuildNatsAggregate},
  };
  return jobs;
}

}  // namespace weir::examples
