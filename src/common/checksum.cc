#include "common/checksum.h"

#include <cstdio>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace weir {

uint64_t Hash64(std::string_view data) { return XXH3_64bits(data.data(), data.size()); }

struct StreamingChecksum::State {
  XXH3_state_t xxh;
};

StreamingChecksum::StreamingChecksum() : state_(std::make_unique<State>()) {
  XXH3_64bits_reset(&state_->xxh);
}

StreamingChecksum::~StreamingChecksum() = default;

void StreamingChecksum::Update(std::string_view data) {
  XXH3_64bits_update(&state_->xxh, data.data(), data.size());
}

uint64_t StreamingChecksum::Digest() const { return XXH3_64bits_digest(&state_->xxh); }

std::string FormatChecksum(uint64_t checksum) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "xxh3:%016llx", static_cast<unsigned long long>(checksum));
  return buf;
}

}  // namespace weir
