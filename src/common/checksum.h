// Hashing used by weir's formats. One algorithm everywhere: XXH3-64 (xxHash 0.8), seed 0.
// It is stable across machines, compilers and releases of xxHash, which is why it, and never
// std::hash, decides key groups and checks files.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace weir {

uint64_t Hash64(std::string_view data);

// Incremental XXH3-64 over a stream of bytes; Digest() equals Hash64 of the concatenation.
class StreamingChecksum {
 public:
  StreamingChecksum();
  ~StreamingChecksum();
  StreamingChecksum(const StreamingChecksum&) = delete;
  StreamingChecksum& operator=(const StreamingChecksum&) = delete;

  void Update(std::string_view data);
  uint64_t Digest() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// "xxh3:0123456789abcdef": how a checksum is shown to people and in JSON.
std::string FormatChecksum(uint64_t checksum);

}  // namespace weir
