// Helpers the benchmarks share: wall time, percentiles, failing loudly, incompressible values, and
// the
// --set key=value argument.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "splitmix64.h"
#include "weir/status.h"

namespace weir::bench {

using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// The p-quantile (0..1) of `v` by the nearest rank below; 0 for no values.
inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
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

// The key and value of a `--set key=value` argument; exits the benchmark `program` when it has
// no key or no '='.
inline std::pair<std::string, std::string> ParseSetting(const char* program,
                                                        const std::string& kv) {
  const size_t eq = kv.find('=');
  if (eq == std::string::npos || eq == 0) {
    std::fprintf(stderr, "%s: --set %s: expected key=value\n", program, kv.c_str());
    std::exit(2);
  }
  return {kv.substr(0, eq), kv.substr(eq + 1)};
}

}  // namespace weir::bench
