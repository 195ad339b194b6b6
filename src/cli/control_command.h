// `weir savepoint | stop | checkpoint | cancel`: job control of a running job, as a client of its
// REST API (web/rest_job_control.h). The address is --rest, else the `rest.*` keys of --config
// and -D, else http://127.0.0.1:8081; the bearer token is read from --token-file or
// `rest.auth.token-file`.
#pragma once

#include <CLI/CLI.hpp>

namespace weir::cli {

void AddControlCommands(CLI::App& app, int& exit_code);

}  // namespace weir::cli
