// Parses an example job's arguments with CLI11; errors become one InvalidArgument line.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "weir/status.h"

namespace weir::examples {

inline Status ParseJobArgs(CLI::App& app, const std::vector<std::string>& args) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    return Status::InvalidArgument(app.help());
  } catch (const CLI::ParseError& e) {
    return Status::InvalidArgument("job " + app.get_name() + ": " + e.what());
  }
  return Status::OK();
}

}  // namespace weir::examples
