#include "config/option_registry.h"

#include "io/s3/s3_options.h"
#include "state/rocksdb/rocksdb_options.h"
#include "web/web_options.h"
#include "weir/config.h"

namespace weir {

const std::vector<OptionDescriptor>& AllOptions() {
  static const std::vector<OptionDescriptor> options = [] {
    std::vector<OptionDescriptor> all;
    for (auto module :
         {config::CoreOptions, config::RocksDbOptions, config::S3Options, config::WebOptions}) {
      for (auto& d : module()) all.push_back(std::move(d));
    }
    return all;
  }();
  return options;
}

const OptionDescriptor* FindOption(std::string_view key) {
  for (const auto& d : AllOptions()) {
    if (d.key == key || (!d.flink_key.empty() && d.flink_key == key)) return &d;
  }
  return nullptr;
}

std::string RenderOptionsMarkdown() {
  std::string out = "| key | type | default | Flink key | meaning |\n|---|---|---|---|---|\n";
  for (const auto& d : AllOptions()) {
    std::string meaning(d.description);
    if (!d.allowed.empty()) meaning += " Allowed: " + d.allowed + ".";
    const std::string flink = d.flink_key.empty()    ? "—"
                              : d.flink_key == d.key ? "same"
                                                     : "`" + std::string(d.flink_key) + "`";
    out += "| `" + std::string(d.key) + "` | " + std::string(d.type) + " | " +
           (d.default_text.empty() ? "(empty)" : "`" + d.default_text + "`") + " | " + flink +
           " | " + meaning + " |\n";
  }
  return out;
}

}  // namespace weir
