// Nexmark query 5, "Hot Items", as a weir job: which auctions have seen the most bids in the
// last period? Over sliding event-time windows (10 s every 2 s, as the Nexmark Flink suite runs
// it; watermarks 4 s behind the newest event time), each window's bid count per auction, then per
// window the auctions with the highest count (every auction tied at it). Output lines
// "window_start_ms,window_end_ms,auction,bids" through the exactly-once file sink.
//
//   generator -> timestamps/watermarks -> bids only -> keyBy(auction) -> sliding window count
//             -> keyBy(window) -> the window's maximum, emitted when the watermark passes it
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "nexmark_generator.h"
#include "weir/job_graph.h"
#include "weir/status.h"

namespace weir::nexmark {

struct Q5Options {
  uint64_t events = 10'000'000;  // generated events of all kinds
  GeneratorConfig generator;
  int64_t rate = 0;  // events per second of wall time over all source subtasks; 0: unbounded
  std::chrono::milliseconds window{10'000};
  std::chrono::milliseconds slide{2'000};
  std::chrono::milliseconds watermark_delay{4'000};
  std::string output;  // directory of the committed output
};

Result<JobGraph> BuildQ5(const Q5Options& options);

// The answer computed directly from the generator's events: each output line and how many
// times it is expected (once).
std::map<std::string, int> Q5ReferenceAnswer(const Q5Options& options);

}  // namespace weir::nexmark
