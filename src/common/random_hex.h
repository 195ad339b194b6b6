// Random lowercase hex strings for names no one can predict or collide with: job ids, the
// random part of file names in shared/, state-change log writer ids.
#pragma once

#include <cstddef>
#include <string>

namespace weir {

// `digits` hex digits from a per-thread generator seeded by std::random_device.
std::string RandomHex(size_t digits);

}  // namespace weir
