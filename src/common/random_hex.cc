#include "common/random_hex.h"

#include <random>

namespace weir {

std::string RandomHex(size_t digits) {
  thread_local std::mt19937_64 rng{(uint64_t{std::random_device{}()} << 32) ^
                                   std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(digits, '0');
  for (char& c : s) c = kHex[rng() % 16];
  return s;
}

}  // namespace weir
