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
      {"windowed-count",
       "file of event_time_ms,key lines -> per key and event-time window (--window, --slide) a "
       "count -> file sink of window_start_ms,window_end_ms,key,count",
       &BuildWindowedCount},
  };
  return jobs;
}

}  // namespace weir::examples
