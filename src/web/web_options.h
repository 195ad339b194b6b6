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
        "(docs/observability.md); `weir worker` serves the cluster view (docs/cluster.md)."};
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

// Whether the REST API may act on the job (savepoints, stop, checkpoints, cancel).
enum class RestControl { kAuto, kTrue, kFalse };
inline constexpr EnumChoice<RestControl> kRestControlChoices[] = {
    {RestControl::kAuto, "auto"}, {RestControl::kTrue, "true"}, {RestControl::kFalse, "false"}};
inline constexpr ConfigOption<RestControl> kRestControl{
    .key = "rest.control.enabled",
    .default_value = RestControl::kAuto,
    .description =
        "Whether the REST API's job control (POST savepoints, stop, checkpoints; PATCH cancel) "
        "is served: `auto` serves it when `rest.bind-address` is a loopback address only; "
        "`true` on any address requires `rest.auth.token-file`; `false` refuses it with 403 "
        "(docs/savepoints.md).",
    .choices = kRestControlChoices};
inline constexpr ConfigOption<std::string_view> kRestTokenFile{
    .key = "rest.auth.token-file",
    .default_value = "",
    .description =
        "A file (readable by its owner only) holding the bearer token job control requires: "
        "requests without `Authorization: Bearer <token>` are refused with 401. The CLI's "
        "control commands send it too."};

// The options above, for the registry (src/config/option_registry.cc). Header-only: the
// registry needs no link dependency on this module.
inline std::vector<OptionDescriptor> WebOptions() {
  return {Describe(kRestEnabled), Describe(kRestAddress), Describe(kRestPort),
          Describe(kRestControl), Describe(kRestTokenFile)};
}

}  // namespace weir::config
