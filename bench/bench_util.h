// Helpers the state benchmarks share: wall time, failing loudly, and incompressible values.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "splitmix64.h"
#include "weir/status.h"

namespace weir::bench {

using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Exits the benchmark `program` with the error: a figure measured after a failure means nothing.
inline void Check(const char* program, const Status& s, const std::string& what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s: %s\n", program, what.c_str(), s.ToString().c_str());
    std::exit(1);
  }
}

// Fills `value` with bytes that do not compress, determined by `seed`: the state's bytes are
// what the disk must move.
inline void FillIncompressible(std::string& value, uint64_t seed) {
  for (size_t i = 0; i + 8 <= value.size(); i += 8) {
    const uint64_t r = examples::SplitMix64(seed + i);
    std::memcpy(value.data() + i, &r, 8);
  }
}

}  // namespace weir::bench
