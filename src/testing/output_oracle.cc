#include "testing/output_oracle.h"

#include <cctype>
#include <filesystem>
#include <fstream>

#include "splitmix64.h"

namespace weir::testing {

std::map<std::string, KeyTotals> KeyedAggregateGroupTotals(uint64_t events, uint64_t keys,
                                                           uint64_t groups) {
  std::map<std::string, KeyTotals> out;
  for (const auto& [key, totals] : KeyedAggregateTotals(events, keys)) {
    KeyTotals& g = out[std::to_string(std::stoull(key) % groups)];
    g.count += totals.count;
    g.sum = g.sum.value_or(0) + totals.sum.value_or(0);
  }
  return out;
}

std::map<std::string, KeyTotals> KeyedAggregateTotals(uint64_t events, uint64_t keys) {
  std::vector<KeyTotals> totals(keys);
  for (uint64_t i = 0; i < events; ++i) {
    KeyTotals& t = totals[examples::KeyOfEvent(i, keys)];
    ++t.count;
    t.sum = t.sum.value_or(0) + static_cast<int64_t>(i);
  }
  std::map<std::string, KeyTotals> out;
  for (uint64_t k = 0; k < keys; ++k) {
    if (totals[k].count > 0) out[std::to_string(k)] = totals[k];
  }
  return out;
}

std::map<std::string, KeyTotals> WordCountTotals(const std::vector<std::string>& lines) {
  std::map<std::string, KeyTotals> out;
  for (const auto& line : lines) {
    std::string word;
    for (size_t i = 0; i <= line.size(); ++i) {
      const char c = i < line.size() ? line[i] : ' ';
      if (std::isalnum(static_cast<unsigned char>(c))) {
        word.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      } else if (!word.empty()) {
        ++out[word].count;
        word.clear();
      }
    }
  }
  return out;
}

std::map<std::string, int> CommittedLines(const std::string& dir) {
  std::map<std::string, int> lines;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.' || name[0] == '_') continue;
    std::ifstream in(entry.path());
    for (std::string line; std::getline(in, line);) ++lines[line];
  }
  return lines;
}

Result<OutputComparison> CompareRunningCounts(const std::string& dir,
                                              const std::map<std::string, KeyTotals>& expected) {
  // key -> count -> lines seen with that count; the sum on the line of the final count
  std::map<std::string, std::map<int64_t, int>> seen;
  std::map<std::string, int64_t> final_sum;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.' || name[0] == '_') continue;
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      const size_t a = line.find(',');
      if (a == std::string::npos) {
        return Status::Corruption("malformed line in " + name + ": " + line);
      }
      const size_t b = line.find(',', a + 1);
      const std::string key = line.substr(0, a);
      const int64_t count = std::stoll(line.substr(a + 1, b == std::string::npos ? b : b - a - 1));
      ++seen[key][count];
      if (b != std::string::npos) {
        auto it = expected.find(key);
        if (it != expected.end() && count == it->second.count) {
          final_sum[key] = std::stoll(line.substr(b + 1));
        }
      }
    }
  }
  if (ec) return Status::IOError("cannot list " + dir + ": " + ec.message());
  OutputComparison out;
  const auto note = [&](const std::string& what) {
    if (out.first.empty()) out.first = what;
  };
  for (const auto& [key, totals] : expected) {
    const auto& counts = seen[key];
    for (int64_t c = 1; c <= totals.count; ++c) {
      auto it = counts.find(c);
      const int n = it == counts.end() ? 0 : it->second;
      if (n == 0) {
        ++out.lost;
        note("key " + key + ": count " + std::to_string(c) + " is missing");
      }
      if (n > 1) {
        out.duplicated += n - 1;
        note("key " + key + ": count " + std::to_string(c) + " appears " + std::to_string(n) +
             " times");
      }
    }
    for (const auto& [c, n] : counts) {
      if (c < 1 || c > totals.count) {
        out.unexpected += n;
        note("key " + key + ": unexpected count " + std::to_string(c));
      }
    }
    if (totals.sum.has_value() && final_sum.count(key) && final_sum[key] != *totals.sum) {
      ++out.unexpected;
      note("key " + key + ": final sum " + std::to_string(final_sum[key]) + ", expected " +
           std::to_string(*totals.sum));
    }
  }
  for (const auto& [key, counts] : seen) {
    if (expected.count(key)) continue;
    for (const auto& [c, n] : counts) out.unexpected += n;
    note("unexpected key " + key);
  }
  return out;
}

Status CheckRunningCounts(const std::string& dir, const std::map<std::string, KeyTotals>& expected,
                          bool allow_duplicates) {
  WEIR_ASSIGN_OR_RETURN(OutputComparison c, CompareRunningCounts(dir, expected));
  if (c.lost == 0 && c.unexpected == 0 && (allow_duplicates || c.duplicated == 0)) {
    return Status::OK();
  }
  return Status::Corruption("committed output in " + dir + " is not " +
                            (allow_duplicates ? "at-least-once: " : "exactly-once: ") + c.first +
                            " (" + std::to_string(c.lost) + " lost, " +
                            std::to_string(c.duplicated) + " duplicated, " +
                            std::to_string(c.unexpected) + " unexpected lines)");
}

}  // namespace weir::testing
