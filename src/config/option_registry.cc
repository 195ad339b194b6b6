#include "config/option_registry.h"

#include <algorithm>

#include "cluster/cluster_options.h"
#include "io/s3/s3_options.h"
#include "state/changelog/changelog_options.h"
#include "state/rocksdb/rocksdb_options.h"
#include "web/web_options.h"
#include "weir/config.h"

namespace weir {

const std::vector<OptionDescriptor>& AllOptions() {
  static const std::vector<OptionDescriptor> options = [] {
    std::vector<OptionDescriptor> all;
    for (auto module :
         {config::CoreOptions, config::RocksDbOptions, config::ChangelogOptions, config::S3Options,
          config::WebOptions, config::ClusterOptions}) {
      for (auto& d : module()) all.push_back(std::move(d));
    }
    return all;
  }();
  return options;
}

const OptionDescriptor* FindOption(std::string_view key) {
  for (const auto& d : AllOptions()) {
    if (d.key == key || (!d.flink_key.empty() && d.flink_key == key) ||
        (!d.flink2_key.empty() && d.flink2_key == key)) {
      return &d;
    }
  }
  return nullptr;
}

bool IsFlinkKeyWeirIgnores(std::string_view key) {
  // Prefixes of Flink's cluster and deployment options, and single keys of that kind; none of
  // them changes what a weir job computes or how it checkpoints.
  static constexpr std::string_view kPrefixes[] = {
      "jobmanager.",
      "taskmanager.",
      "high-availability",
      "zookeeper.",
      "blob.",
      "akka.",
      "pekko.",
      "metrics.",
      "security.",
      "kubernetes.",
      "yarn.",
      "env.",
      "historyserver.",
      "resourcemanager.",
      "slotmanager.",
      "heartbeat.",
      "cluster.",
      "classloader.",
      "queryable-state.",
      "sql-client.",
      "table.",
      "python.",
      "web.",
      "fs.",
      "io.tmp.dirs",
      "rest.address",
      "rest.bind-port",
      "rest.flamegraph.",
      "rest.server.",
      "rest.client.",
      "pipeline.name",
      "pipeline.jars",
      "pipeline.classpaths",
      "execution.target",
      "execution.attached",
      "execution.shutdown-on-attached-exit",
      "execution.runtime-mode",
      "state.backend.local-recovery",
      "state.backend.rocksdb.memory.",
      "state.backend.rocksdb.timer-service.",
      "state.backend.rocksdb.predefined-options",
      "state.task-local-recovery.",
      "execution.checkpointing.local-backup.",
      "parallelism.default.",
  };
  if (FindOption(key) != nullptr) return false;
  for (std::string_view p : kPrefixes) {
    if (key.substr(0, p.size()) == p) return true;
  }
  return false;
}

namespace {

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string SuggestKey(std::string_view key) {
  std::string best;
  size_t best_distance = std::max<size_t>(3, key.size() / 5) + 1;
  for (const auto& d : AllOptions()) {
    for (std::string_view candidate : {d.key, d.flink_key, d.flink2_key}) {
      if (candidate.empty()) continue;
      const size_t distance = EditDistance(key, candidate);
      if (distance < best_distance) {
        best_distance = distance;
        best = std::string(d.key);
      }
    }
  }
  return best;
}

std::string RenderOptionsMarkdown() {
  std::string out = "| key | type | default | Flink key | meaning |\n|---|---|---|---|---|\n";
  for (const auto& d : AllOptions()) {
    std::string meaning(d.description);
    if (!d.allowed.empty()) meaning += " Allowed: " + d.allowed + ".";
    std::string flink = d.flink_key.empty()    ? "—"
                        : d.flink_key == d.key ? "same"
                                               : "`" + std::string(d.flink_key) + "`";
    if (!d.flink2_key.empty()) flink += "; Flink 2: `" + std::string(d.flink2_key) + "`";
    out += "| `" + std::string(d.key) + "` | " + std::string(d.type) + " | " +
           (d.default_text.empty() ? "(empty)" : "`" + d.default_text + "`") + " | " + flink +
           " | " + meaning + " |\n";
  }
  return out;
}

}  // namespace weir
