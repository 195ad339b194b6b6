#include "cli/config_command.h"

#include <cstdio>
#include <memory>

#include "config/option_registry.h"

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

}  // namespace

void AddConfigCommand(CLI::App& app, int& exit_code) {
  auto* config = app.add_subcommand("config", "What can be configured");
  config->require_subcommand(1);
  auto* keys = config->add_subcommand("keys", "Every configuration key, its default and meaning");
  auto markdown = std::make_shared<bool>(false);
  keys->add_flag("--markdown", *markdown, "The table of docs/configuration.md");
  keys->callback([&exit_code, markdown] { exit_code = PrintKeys(*markdown); });
}

}  // namespace weir::cli
