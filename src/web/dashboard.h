// The dashboard page served at "/": one HTML file (src/web/dashboard.html, embedded at build
// time) whose script reads the REST API; no build step, no external resources.
#pragma once

#include <string_view>

namespace weir::web {

std::string_view DashboardHtml();

}  // namespace weir::web
