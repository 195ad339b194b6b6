// `weir nats produce --server URL --stream S --subjects P --keys N --events M`: creates stream S
// (subjects S.0 … S.<P-1>) if missing and publishes keyed-aggregate's events i = 0 … M-1, event i
// to S.<i mod P> as "key,value".
// `weir nats dump --server URL --stream S`: prints every message's payload of S, one per line,
// in stream order (up to the last message when the command starts).
#pragma once

#include <CLI/CLI.hpp>

namespace weir::cli {

void AddNatsCommand(CLI::App& app, int& exit_code);

}  // namespace weir::cli
