// Who may act on a running job over REST (docs/savepoints.md, "Security"): job control is served
// only when `rest.control.enabled` allows it (by default on a loopback address only), and, with
// `rest.auth.token-file` set, only to requests bearing that token. A non-loopback address with
// control enabled and no token is refused at start: nothing changes a running job over the
// network unauthenticated.
#pragma once

#include <string>
#include <string_view>

#include "weir/config.h"
#include "weir/status.h"

namespace weir::web {

struct RestControlOptions {
  bool enabled = false;
  std::string token;            // empty: no token required (loopback only)
  std::string disabled_reason;  // why control is off, for the 403 answer
};

// Whether `address` is a loopback address (127.0.0.0/8, ::1, localhost).
bool IsLoopbackAddress(std::string_view address);

// The control options for a server bound to `address`. InvalidArgument naming the key for a
// token file that cannot be read, is empty, or is readable by others than its owner, and for
// control enabled on a non-loopback address without a token.
Result<RestControlOptions> RestControlFromConfig(const Configuration& config,
                                                 const std::string& address);

// Reads a token file: its first line, trimmed; InvalidArgument as above.
Result<std::string> ReadTokenFile(const std::string& path);

// `a == b` in time independent of where they differ (and of b's content when lengths differ).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace weir::web
