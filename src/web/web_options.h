// Options of the REST server (REST API, dashboard, /metrics) that `weir run` starts.
#pragma once

#include <vector>

#include "weir/config_option.h"

namespace weir::config {

inline constexpr ConfigOption<bool> kRestEnabled{
    .key = "rest.enabled",
    .default_value = true,
    .description =
        "`weir run` serves the REST API, the dashboard and `/metrics` while the job runs "
        "(docs/observability.md)."};
inline constexpr ConfigOption<std::string_view> kRestAddress{
    .key = "rest.bind-address",
    .default_value = "127.0.0.1",
    .description = "Address the REST server binds.",
    .flink_key = "rest.bind-address"};
inline constexpr ConfigOption<int64_t> kRestPort{
    .key = "rest.port",
    .default_value = 8081,
    .description =
        "Port of the REST server; `0` picks a free port; the address is logged. A port in use is "
        "logged as a warning and the job runs without it.",
    .flink_key = "rest.port",
    .min = 0,
    .max = 65535};

// The options above, for the registry (src/config/option_registry.cc). Header-only: the
// registry needs no link dependency on this module.
inline std::vector<OptionDescriptor> WebOptions() {
  return {Describe(kRestEnabled), Describe(kRestAddress), Describe(kRestPort)};
}

}  // namespace weir::config
