#include "cli/config_command.h"

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "config/option_registry.h"
#include "weir/config.h"

namespace weir::cli {
namespace {

int PrintKeys(bool markdown) {
  if (markdown) {
    std::fputs(RenderOptionsMarkdown().c_str(), stdout);
    return 0;
  }
  for (const auto& d : AllOptions()) {
    std::printf("%s (%.*s, default %s%s%s)\n    %.*s\n", std::string(d.key).c_str(),
                static_cast<int>(d.type.size()), d.type.data(),
                d.default_text.empty() ? "empty" : d.default_text.c_str(),
                d.allowed.empty() ? "" : "; ", d.allowed.c_str(),
                static_cast<int>(d.description.size()), d.description.data());
    if (!d.flink_key.empty() && d.flink_key != d.key) {
      std::printf("    Flink's key %s is accepted too.\n", std::string(d.flink_key).c_str());
    }
  }
  return 0;
}

struct CheckArgs {
  std::string config_file;
  std::vector<std::string> assignments;
};

// Loads a configuration as `weir run` would and prints what it sets: every key weir uses with
// its value (under weir's key name), then one warning per Flink key weir ignores.
int CheckConfiguration(const CheckArgs& a) {
  Configuration config;
  Status s = a.config_file.empty() ? Status::OK() : config.LoadYamlFile(a.config_file);
  for (size_t i = 0; s.ok() && i < a.assignments.size(); ++i) {
    s = config.SetFromAssignment(a.assignments[i]);
  }
  if (!s.ok()) {
    std::fprintf(stderr, "weir: %s\n", s.message().c_str());
    return 1;
  }
  for (const auto& [key, value] : config.values()) {
    std::printf("%s: %s\n", key.c_str(), value.c_str());
  }
  for (const auto& key : config.ignored_flink_keys()) {
    std::fprintf(stderr,
                 "weir: warning: configuration key '%s' is Flink's and has no effect in weir; "
                 "ignored\n",
                 key.c_str());
  }
  return 0;
}

}  // namespace

void AddConfigCommand(CLI::App& app, int& exit_code) {
  auto* config = app.add_subcommand("config", "What can be configured");
  config->require_subcommand(1);
  auto* keys = config->add_subcommand("keys", "Every configuration key, its default and meaning");
  auto markdown = std::make_shared<bool>(false);
  keys->add_flag("--markdown", *markdown, "The table of docs/configuration.md");
  keys->callback([&exit_code, markdown] { exit_code = PrintKeys(*markdown); });
  auto* check = config->add_subcommand(
      "check",
      "Load a configuration as `weir run` would: print the keys it sets (weir's names, values as "
      "parsed) and warn about each Flink key weir ignores; exit 1 on the first bad key or value");
  auto c = std::make_shared<CheckArgs>();
  check->add_option("--config", c->config_file, "YAML configuration file (Flink's config.yaml)");
  check->add_option("-D", c->assignments, "configuration key=value (repeatable)")
      ->take_all()
      ->allow_extra_args(false);
  check->callback([&exit_code, c] { exit_code = CheckConfiguration(*c); });
}

}  // namespace weir::cli
