#include "weir/config_option.h"

#include <cctype>
#include <charconv>

namespace weir {
namespace {

// Refused beyond ~31,000 years: a deadline computed as now + duration (in ms or µs) must never
// overflow into the past.
constexpr int64_t kMaxDurationMs = 1'000'000'000'000'000;

std::string Lower(std::string_view s) {
  std::string out;
  for (char c : s) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return out;
}

// Splits "<digits><spaces><unit>"; false without digits.
bool SplitNumberAndUnit(std::string_view text, int64_t* number, std::string* unit) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0) return false;
  auto n = ParseInt(text.substr(0, digits));
  if (!n.ok()) return false;
  *number = *n;
  std::string_view rest = text.substr(digits);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  *unit = Lower(rest);
  return true;
}

struct Unit {
  std::string_view names[5];
  int64_t scale;
};

// Flink's sub-millisecond units: weir keeps durations in milliseconds and truncates, as Flink's
// Duration.toMillis() does (1500 µs is 1 ms).
constexpr Unit kSubMillisecondUnits[] = {
    {{"µs", "micro", "micros", "microsecond", "microseconds"}, 1000},
    {{"ns", "nano", "nanos", "nanosecond", "nanoseconds"}, 1'000'000},
};

constexpr Unit kDurationUnits[] = {
    {{"ms", "milli", "millis", "millisecond", "milliseconds"}, 1},
    {{"s", "sec", "secs", "second", "seconds"}, 1000},
    {{"m", "min", "minute", "minutes", ""}, 60'000},
    {{"h", "hour", "hours", "", ""}, 3'600'000},
    {{"d", "day", "days", "", ""}, 86'400'000},
};

constexpr Unit kMemoryUnits[] = {
    {{"b", "bytes", "", "", ""}, 1},
    {{"k", "kb", "kibibytes", "", ""}, int64_t{1} << 10},
    {{"m", "mb", "mebibytes", "", ""}, int64_t{1} << 20},
    {{"g", "gb", "gibibytes", "", ""}, int64_t{1} << 30},
    {{"t", "tb", "tebibytes", "", ""}, int64_t{1} << 40},
};

template <size_t N>
int64_t ScaleOf(const Unit (&units)[N], const std::string& unit) {
  if (unit.empty()) return units[0].scale;
  for (const auto& u : units) {
    for (auto name : u.names) {
      if (!name.empty() && name == unit) return u.scale;
    }
  }
  return 0;
}

}  // namespace

Result<int64_t> ParseInt(std::string_view text) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return Status::InvalidArgument("'" + std::string(text) + "' is not an integer");
  }
  return v;
}

Result<double> ParseFraction(std::string_view text) {
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !(v > 0.0) ||
      !(v < 1.0)) {
    return Status::InvalidArgument("'" + std::string(text) + "' is not a fraction between 0 and 1");
  }
  return v;
}

std::string FormatFraction(double f) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), f);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(f);
}

Result<bool> ParseBool(std::string_view text) {
  const std::string v = Lower(text);
  if (v == "true") return true;
  if (v == "false") return false;
  return Status::InvalidArgument("'" + std::string(text) + "' is not true or false");
}

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  int64_t n = 0;
  std::string unit;
  const auto bad = [&] {
    return Status::InvalidArgument("'" + std::string(text) +
                                   "' is not a duration such as 500 ms, 10 s, 1 min, 2 h or 1 d");
  };
  if (!SplitNumberAndUnit(text, &n, &unit)) return bad();
  if (!unit.empty()) {
    if (const int64_t per_ms = ScaleOf(kSubMillisecondUnits, unit); per_ms != 0) {
      return std::chrono::milliseconds(n / per_ms);
    }
  }
  const int64_t scale = ScaleOf(kDurationUnits, unit);
  if (scale == 0 || n > kMaxDurationMs / scale) return bad();
  return std::chrono::milliseconds(n * scale);
}

Result<MemorySize> ParseMemorySize(std::string_view text) {
  int64_t n = 0;
  std::string unit;
  const auto bad = [&] {
    return Status::InvalidArgument("'" + std::string(text) +
                                   "' is not a memory size such as 512 kb, 64 mb or 1 gb");
  };
  if (!SplitNumberAndUnit(text, &n, &unit)) return bad();
  const int64_t scale = ScaleOf(kMemoryUnits, unit);
  if (scale == 0 || n > INT64_MAX / scale) return bad();
  return MemorySize{static_cast<uint64_t>(n * scale)};
}

std::string FormatDuration(std::chrono::milliseconds d) {
  const int64_t ms = d.count();
  // The largest unit that divides it; zero and odd values in milliseconds.
  constexpr std::pair<int64_t, const char*> kUnits[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "min"}, {1000, "s"}};
  for (const auto& [scale, name] : kUnits) {
    if (ms != 0 && ms % scale == 0) return std::to_string(ms / scale) + " " + name;
  }
  return std::to_string(ms) + " ms";
}

std::string FormatMemorySize(MemorySize m) {
  constexpr std::pair<uint64_t, const char*> kUnits[] = {{uint64_t{1} << 40, "tb"},
                                                         {uint64_t{1} << 30, "gb"},
                                                         {uint64_t{1} << 20, "mb"},
                                                         {uint64_t{1} << 10, "kb"}};
  for (const auto& [scale, name] : kUnits) {
    if (m.bytes != 0 && m.bytes % scale == 0) return std::to_string(m.bytes / scale) + " " + name;
  }
  return std::to_string(m.bytes) + " b";
}

bool SameChoiceName(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  const auto norm = [](char c) {
    return c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  };
  for (size_t i = 0; i < a.size(); ++i) {
    if (norm(a[i]) != norm(b[i])) return false;
  }
  return true;
}

}  // namespace weir
