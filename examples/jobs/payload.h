// The payload the aggregate jobs keep per key (--payload-bytes): deterministic bytes that change
// with every update of the key, letters only (so that they compress as text does, about 1.6x).
#pragma once

#include <cstdint>
#include <string>

#include "splitmix64.h"

namespace weir::examples {

inline std::string PayloadOf(uint64_t key, int64_t count, size_t bytes) {
  std::string p(bytes, '\0');
  uint64_t x = SplitMix64(key * 0x100000001b3ULL + static_cast<uint64_t>(count));
  for (size_t i = 0; i < p.size(); ++i) {
    if (i % 8 == 0) x = SplitMix64(x);
    p[i] = static_cast<char>('a' + (x >> ((i % 8) * 8)) % 26);
  }
  return p;
}

}  // namespace weir::examples
