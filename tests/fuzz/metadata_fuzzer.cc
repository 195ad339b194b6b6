// Fuzzes the `_metadata` reader: any bytes either decode to metadata that re-encodes to the same
// bytes, or are refused with a Corruption status. Never a crash, a hang or an exception.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "checkpoint/checkpoint_metadata.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto decoded = weir::DecodeCheckpointMetadata(bytes, "fuzz/_metadata");
  if (!decoded.ok()) {
    if (!decoded.status().IsCorruption()) std::abort();
    return 0;
  }
  // What decodes is well-formed: its paths stay inside the job directory, and it round-trips
  // (version 1 input re-encodes as version 2, so compare decoded values).
  for (const auto& b : decoded->backends) {
    for (const auto& f : b.files) {
      if (!weir::ValidateRelativePath(f.path).ok()) std::abort();
    }
  }
  auto again = weir::DecodeCheckpointMetadata(weir::EncodeCheckpointMetadata(*decoded), "again");
  if (!again.ok() || !(*again == *decoded)) std::abort();
  return 0;
}
