// Oracles for exactly-once output: what a failure-free run of keyed-aggregate or wordcount
// commits, and a check of a sink directory's committed output against it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "weir/status.h"

namespace weir::testing {

struct KeyTotals {
  int64_t count = 0;
  std::optional<int64_t> sum;  // keyed-aggregate only
};

// keyed-aggregate over `events` events and `keys` keys.
std::map<std::string, KeyTotals> KeyedAggregateTotals(uint64_t events, uint64_t keys);
// nats-aggregate --groups G's second output: per group (key mod G), the count and sum of the
// events of all its keys.
std::map<std::string, KeyTotals> KeyedAggregateGroupTotals(uint64_t events, uint64_t keys,
                                                           uint64_t groups);
// wordcount over these lines (words: runs of letters and digits, lower-cased).
std::map<std::string, KeyTotals> WordCountTotals(const std::vector<std::string>& lines);

// Reads the committed output in `dir` (files whose names begin with neither '.' nor '_'), lines
// "key,count[,sum]", and checks that each key has the counts 1..final exactly once and the final
// count (and sum) of `expected`. The error describes the first discrepancy and the totals of lost
// and duplicated lines.
// What the committed output holds against the expectation, line by line.
struct OutputComparison {
  int64_t lost = 0;        // expected (key, count) lines missing
  int64_t duplicated = 0;  // lines beyond the first of the same (key, count)
  int64_t unexpected = 0;  // counts or keys the expectation does not have
  std::string first;       // the first discrepancy, described; empty when none
};
Result<OutputComparison> CompareRunningCounts(const std::string& dir,
                                              const std::map<std::string, KeyTotals>& expected);

// Every committed line of `dir` (files whose names begin with neither '.' nor '_'), with how
// many times it was committed; empty if `dir` does not exist.
std::map<std::string, int> CommittedLines(const std::string& dir);

// `allow_duplicates`: at-least-once instead (every count present, duplicates tolerated).
Status CheckRunningCounts(const std::string& dir, const std::map<std::string, KeyTotals>& expected,
                          bool allow_duplicates = false);

}  // namespace weir::testing
