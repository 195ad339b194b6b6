// What `weir --version` prints: weir's version and the commit it was built from (written at build
// time by src/common/version.cmake), and the libraries whose formats weir's files depend on.
#pragma once

namespace weir {

extern const char* const kWeirVersion;  // the project's version, "0.1.0"
extern const char* const kWeirCommit;   // "1a2b3c4d5e6f", "-modified" with uncommitted changes

}  // namespace weir
