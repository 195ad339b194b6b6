// A Nexmark-style event generator: the online auction model of the Nexmark benchmark
// (github.com/nexmark/nexmark, after Tucker et al., "NEXMark – A Benchmark for Queries over Data
// Streams") as its Flink suite configures it — persons, auctions and bids in proportion 1:3:46
// (2%, 6%, 92%), ids that grow with the event number, half of all bids on the "hot" auction (the
// newest multiple of 100) and the rest on one of the 100 auctions in flight, three quarters of
// them by the hot bidder, prices log-uniform from $1 to $10,000, and event times that advance
// by 1/tps per event. Each event carries a padding string ("extra") that brings it to Nexmark's
// average size per kind (person 200, auction 500, bid 100 bytes). Event n is a pure function
// of n, so any subtask can generate any slice and a test can recompute the stream.
#pragma once

#include <cstdint>
#include <string>

namespace weir::nexmark {

struct Event {
  enum class Kind : uint8_t { kPerson, kAuction, kBid };
  Kind kind = Kind::kBid;
  int64_t date_time_ms = 0;
  int64_t id = 0;       // person or auction id
  int64_t auction = 0;  // bid: the auction bid on
  int64_t bidder = 0;   // bid: the person bidding; auction: the seller
  int64_t price = 0;    // bid: cents; auction: the initial bid
  std::string extra;
};

struct GeneratorConfig {
  int64_t base_time_ms = 1'700'000'000'000;  // the first event's time
  int64_t tps = 10'000'000;                  // events per second of event time (Nexmark's suite)
};

Event GenerateEvent(uint64_t n, const GeneratorConfig& config);

}  // namespace weir::nexmark
