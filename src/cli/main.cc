// The `weir` command line.
#include <CLI/CLI.hpp>

#include "cli/checkpoints_command.h"
#include "cli/config_command.h"
#include "cli/control_command.h"
#include "cli/nats_command.h"
#include "cli/run_command.h"

int main(int argc, char** argv) {
  CLI::App app{"weir: a stateful stream processor with incremental checkpoints"};
  app.require_subcommand(1);
  int exit_code = 0;
  weir::cli::AddCheckpointsCommand(app, exit_code);
  weir::cli::AddConfigCommand(app, exit_code);
  weir::cli::AddRunCommand(app, exit_code);
  weir::cli::AddNatsCommand(app, exit_code);
  weir::cli::AddControlCommands(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
