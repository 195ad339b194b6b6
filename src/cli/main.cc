// The `weir` command line.
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "cli/checkpoints_command.h"
#include "cli/config_command.h"
#include "cli/control_command.h"
#include "cli/nats_command.h"
#include "cli/run_command.h"
#include "cli/worker_command.h"
#include "common/version.h"
#include "state/state_backends.h"

namespace {

// Exit codes every command keeps (the footer of `weir --help`): CLI11's usage errors become 2.
constexpr int kUsageError = 2;

std::string VersionText() {
  return std::string("weir ") + weir::kWeirVersion + " (commit " + weir::kWeirCommit + "), " +
         weir::StateBackendLibraries();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weir: a stateful stream processor with incremental checkpoints"};
  app.require_subcommand(1);
  app.set_version_flag("--version", VersionText(), "Print weir's version, commit and RocksDB's");
  app.footer(
      "Exit codes: 0 done; 1 the command failed (one line on stderr says why); 2 usage error; "
      "128+n ended by signal n (weir run: 130 after SIGINT, 143 after SIGTERM, 130 when "
      "cancelled over REST).");
  int exit_code = 0;
  weir::cli::AddCheckpointsCommand(app, exit_code);
  weir::cli::AddConfigCommand(app, exit_code);
  weir::cli::AddRunCommand(app, exit_code);
  weir::cli::AddNatsCommand(app, exit_code);
  weir::cli::AddWorkerCommands(app, exit_code);
  weir::cli::AddControlCommands(app, exit_code);
  // An unknown command is named; CLI11 alone would only say that a command is required.
  if (argc > 1 && argv[1][0] != '-') {
    const std::string command = argv[1];
    std::string known;
    bool found = false;
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      found = found || sub->get_name() == command;
      known += (known.empty() ? "" : ", ") + sub->get_name();
    }
    if (!found) {
      std::cerr << "weir: unknown command '" << command << "' (commands: " << known
                << ")\nRun with --help for more information.\n";
      return kUsageError;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help, the version, or the error
    return code == 0 ? 0 : kUsageError;
  }
  return exit_code;
}
