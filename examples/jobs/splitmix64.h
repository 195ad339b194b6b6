#pragma once
#include <cstdint>

namespace weir::examples {

// The standard splitmix64 finalizer (the keyed-aggregate workload's key choice).
inline uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Key of event i of keyed-aggregate over `keys` keys: every key once first, then spread.
inline uint64_t KeyOfEvent(uint64_t i, uint64_t keys) {
  return i < keys ? i : SplitMix64(i) % keys;
}

}  // namespace weir::examples
