#include "state/ttl_value.h"

#include <limits>

#include "weir/state.h"

namespace weir {

void AppendTtlValue(std::string* out, int64_t timestamp, std::string_view user_value) {
  const auto t = static_cast<uint64_t>(timestamp);
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(t >> shift));
  out->append(user_value);
}

bool ParseTtlValue(std::string_view stored, int64_t* timestamp, std::string_view* user_value) {
  if (stored.size() < kTtlTimestampBytes) return false;
  uint64_t t = 0;
  for (size_t i = 0; i < kTtlTimestampBytes; ++i) t = (t << 8) | static_cast<uint8_t>(stored[i]);
  *timestamp = static_cast<int64_t>(t);
  *user_value = stored.substr(kTtlTimestampBytes);
  return true;
}

bool TtlExpired(int64_t timestamp, int64_t ttl_ms, int64_t now) {
  // Saturating: a TTL of years added to a late timestamp must not wrap into the past.
  if (timestamp > std::numeric_limits<int64_t>::max() - ttl_ms) return false;
  return timestamp + ttl_ms <= now;
}

TtlRowDecision FilterExpired(const TtlRowFilter& filter, std::string_view stored, int64_t now,
                             std::string* kept) {
  int64_t timestamp = 0;
  std::string_view user;
  if (!filter.list) {
    if (!ParseTtlValue(stored, &timestamp, &user)) return TtlRowDecision::kKeep;
    return TtlExpired(timestamp, filter.ttl_ms, now) ? TtlRowDecision::kDrop
                                                     : TtlRowDecision::kKeep;
  }
  // First pass: does anything expire? Most rows keep everything and are not copied.
  std::string_view in = stored, element;
  size_t expired = 0, total = 0;
  while (!in.empty()) {
    if (!list_row::ReadElement(&in, &element) || !ParseTtlValue(element, &timestamp, &user)) {
      return TtlRowDecision::kKeep;
    }
    ++total;
    if (TtlExpired(timestamp, filter.ttl_ms, now)) ++expired;
  }
  if (expired == 0) return TtlRowDecision::kKeep;
  if (expired == total) return TtlRowDecision::kDrop;
  kept->clear();
  for (in = stored; !in.empty();) {
    (void)list_row::ReadElement(&in, &element);
    (void)ParseTtlValue(element, &timestamp, &user);
    if (!TtlExpired(timestamp, filter.ttl_ms, now)) list_row::AppendElement(kept, element);
  }
  return TtlRowDecision::kRewrite;
}

}  // namespace weir
