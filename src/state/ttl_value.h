// How a state with a TTL stores its values (state_ttl.h), shared by the TTL view of raw state,
// the full-snapshot filter and RocksDB's compaction filter: every value (every map entry's
// value; every element of a list row) is prefixed with the 8-byte big-endian time in ms it was
// last written or read. A value is expired once that time plus the TTL is at or before now.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace weir {

inline constexpr size_t kTtlTimestampBytes = 8;

void AppendTtlValue(std::string* out, int64_t timestamp, std::string_view user_value);
// False when `stored` is too short to carry a timestamp.
bool ParseTtlValue(std::string_view stored, int64_t* timestamp, std::string_view* user_value);
bool TtlExpired(int64_t timestamp, int64_t ttl_ms, int64_t now);

// What to do with a stored row of a state with a TTL at time `now`.
enum class TtlRowDecision { kKeep, kDrop, kRewrite };
struct TtlRowFilter {
  bool list = false;  // the row is a list row: each element carries its own timestamp
  int64_t ttl_ms = 0;
};
// kDrop: every value of the row has expired. kRewrite (lists only): `*kept` holds the row with
// its expired elements left out. kKeep too when the row does not parse: a filter never destroys
// what it cannot read (the read path reports it).
TtlRowDecision FilterExpired(const TtlRowFilter& filter, std::string_view stored, int64_t now,
                             std::string* kept);

}  // namespace weir
