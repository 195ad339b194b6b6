// Typed configuration options. Each module declares the options it owns as constants of
// ConfigOption<T> (key, default, description, and the Flink key it mirrors); a Configuration
// stores text and Get(option) returns a T. Every option is also listed, type-erased as an
// OptionDescriptor, in the one registry (src/config/option_registry.cc) that validates
// Configuration::Set, renders docs/configuration.md and feeds its completeness test.
//
// Value grammar, Flink's:
// - bool: true or false (any case);
// - int: decimal, within [min, max];
// - duration: an integer and an optional unit, with or without a space: ms, milli(s),
//   millisecond(s); s, sec(s), second(s); m, min, minute(s); h, hour(s); d, day(s). No unit:
//   milliseconds ("10 s", "10s", "500 ms", "1 min", "2 h", "1 d", "250");
// - memory size: an integer and an optional unit: b, bytes; k, kb, kibibytes; m, mb, mebibytes;
//   g, gb, gibibytes; t, tb, tebibytes (powers of 1024). No unit: bytes ("64 mb", "1gb");
// - enum: one of its names, ignoring case, '-' and '_' alike (at-least-once = AT_LEAST_ONCE).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "weir/status.h"

namespace weir {

struct MemorySize {
  uint64_t bytes = 0;
  auto operator<=>(const MemorySize&) const = default;
};

// One name of an enum option's value.
template <typename E>
struct EnumChoice {
  E value;
  std::string_view name;
};

template <typename T>
struct ConfigOption {
  std::string_view key;
  T default_value;
  std::string_view description;
  // The Flink option this one mirrors (accepted as a synonym when it is spelled differently);
  // empty for an option of weir's own.
  std::string_view flink_key = {};
  // Its name in Flink 2.x when Flink renamed it (accepted as a synonym too).
  std::string_view flink2_key = {};
  int64_t min = 0;  // int: smallest value; memory size: fewest bytes
  int64_t max = 0;  // int: largest value; memory size: most bytes (0: no bound)
  std::span<const EnumChoice<T>> choices = {};  // enum options
  constexpr operator std::string_view() const { return key; }
};

// What Configuration::Get returns for an option of type T: text options are stored as
// string_view constants and read back as strings.
template <typename T>
using OptionValue = std::conditional_t<std::is_same_v<T, std::string_view>, std::string, T>;

// The shared grammars (above). InvalidArgument on anything else, overflow included.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);
Result<MemorySize> ParseMemorySize(std::string_view text);
Result<bool> ParseBool(std::string_view text);
Result<int64_t> ParseInt(std::string_view text);
// A fraction strictly between 0 and 1 ("0.5", ".1"): the one kind of real number options take.
Result<double> ParseFraction(std::string_view text);
// Its shortest round-tripping spelling ("0.5").
std::string FormatFraction(double f);
// Canonical spellings: the largest unit that divides the value ("10 min", "1 s", "0 ms";
// "16 mb", "512 b").
std::string FormatDuration(std::chrono::milliseconds d);
std::string FormatMemorySize(MemorySize m);
// `a` and `b` name the same enum value (case and '-'/'_' ignored).
bool SameChoiceName(std::string_view a, std::string_view b);

// `text` read as a value of `option`; InvalidArgument names the key, the value and what it
// should be.
template <typename T>
Result<OptionValue<T>> ParseOptionValue(const ConfigOption<T>& option, std::string_view text) {
  const auto bad = [&](const std::string& expected) {
    return Status::InvalidArgument("configuration key '" + std::string(option.key) + "': value '" +
                                   std::string(text) + "' is not " + expected);
  };
  if constexpr (std::is_same_v<T, bool>) {
    auto b = ParseBool(text);
    if (!b.ok()) return bad("true or false");
    return *b;
  } else if constexpr (std::is_same_v<T, int64_t>) {
    auto i = ParseInt(text);
    if (!i.ok() || *i < option.min || *i > option.max) {
      return bad("an integer in " + std::to_string(option.min) + ".." + std::to_string(option.max));
    }
    return *i;
  } else if constexpr (std::is_same_v<T, std::string_view>) {
    return std::string(text);
  } else if constexpr (std::is_same_v<T, double>) {
    auto f = ParseFraction(text);
    if (!f.ok()) return bad("a fraction between 0 and 1 (exclusive), such as 0.5");
    return *f;
  } else if constexpr (std::is_same_v<T, std::chrono::milliseconds>) {
    auto d = ParseDuration(text);
    if (!d.ok()) return bad("a duration such as 500 ms, 10 s, 1 min, 2 h or 1 d");
    return *d;
  } else if constexpr (std::is_same_v<T, MemorySize>) {
    auto m = ParseMemorySize(text);
    const auto too_big = [&] { return option.max > 0 && m->bytes > uint64_t(option.max); };
    if (!m.ok() || m->bytes < uint64_t(option.min) || too_big()) {
      return bad("a memory size such as 64 mb or 1 gb, from " +
                 FormatMemorySize({uint64_t(option.min)}) +
                 (option.max > 0 ? " to " + FormatMemorySize({uint64_t(option.max)}) : ""));
    }
    return *m;
  } else {
    static_assert(std::is_enum_v<T>,
                  "options are bool, int64_t, fractions (double), string_view, durations, "
                  "memory sizes or enums");
    std::string names;
    for (const auto& c : option.choices) {
      if (SameChoiceName(c.name, text)) return c.value;
      names += (names.empty() ? "" : "|") + std::string(c.name);
    }
    return bad("one of " + names);
  }
}

// The name of an enum option's value, as its choices spell it.
template <typename E>
std::string_view ChoiceName(const ConfigOption<E>& option, E value) {
  for (const auto& c : option.choices) {
    if (c.value == value) return c.name;
  }
  return "?";
}

// An option without its type, for the registry: validation, documentation, listing.
struct OptionDescriptor {
  std::string_view key;
  std::string_view flink_key;
  std::string_view flink2_key;
  std::string_view type;  // bool, int, fraction, string, duration, memory, enum
  std::string default_text;
  std::string_view description;
  std::string allowed;  // "1..1024", "rocksdb, hashmap"; empty: any value of the type
  // `text` checked against the option; returns its canonical spelling (an enum's name as the
  // option spells it, the text unchanged otherwise).
  std::function<Result<std::string>(std::string_view text)> canonicalize;
};

template <typename T>
OptionDescriptor Describe(const ConfigOption<T>& option) {
  OptionDescriptor d;
  d.key = option.key;
  d.flink_key = option.flink_key;
  d.flink2_key = option.flink2_key;
  d.description = option.description;
  d.canonicalize = [&option](std::string_view text) -> Result<std::string> {
    WEIR_ASSIGN_OR_RETURN(auto value, ParseOptionValue(option, text));
    if constexpr (std::is_enum_v<T>) {
      return std::string(ChoiceName(option, value));
    } else {
      (void)value;
      return std::string(text);
    }
  };
  if constexpr (std::is_same_v<T, bool>) {
    d.type = "bool";
    d.default_text = option.default_value ? "true" : "false";
  } else if constexpr (std::is_same_v<T, int64_t>) {
    d.type = "int";
    d.default_text = std::to_string(option.default_value);
    d.allowed = std::to_string(option.min) + ".." + std::to_string(option.max);
  } else if constexpr (std::is_same_v<T, std::string_view>) {
    d.type = "string";
    d.default_text = std::string(option.default_value);
  } else if constexpr (std::is_same_v<T, double>) {
    d.type = "fraction";
    d.default_text = FormatFraction(option.default_value);
    d.allowed = "between 0 and 1, exclusive";
  } else if constexpr (std::is_same_v<T, std::chrono::milliseconds>) {
    d.type = "duration";
    d.default_text = FormatDuration(option.default_value);
  } else if constexpr (std::is_same_v<T, MemorySize>) {
    d.type = "memory";
    d.default_text = FormatMemorySize(option.default_value);
    d.allowed = FormatMemorySize({uint64_t(option.min)}) + ".." +
                (option.max > 0 ? FormatMemorySize({uint64_t(option.max)}) : "");
  } else {
    d.type = "enum";
    d.default_text = std::string(ChoiceName(option, option.default_value));
    for (const auto& c : option.choices) {
      d.allowed += (d.allowed.empty() ? "" : ", ") + std::string(c.name);
    }
  }
  return d;
}

}  // namespace weir
