// Fuzzes the state-change log's reader (changelog_format.h), which reads files a hostile
// checkpoint directory may hold: the input as a whole `.dstl` file, and the input as the records
// of a chunk whose checksum is valid (a fuzzer cannot forge XXH3, so without this the records
// would never be reached). Whatever the reader accepts must be what a replay can use: states
// the chunk lists, key groups in range, a chunk's first record never "same context", and every
// field inside the input.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "state/changelog/changelog_format.h"
#include "weir/key_group.h"

namespace {

void Visit(const weir::ChangelogChunk& chunk, std::string_view records) {
  uint64_t index = 0;
  (void)weir::ForEachStateChange(chunk, [&](const weir::StateChange& c) -> weir::Status {
    bool listed = false;
    for (const auto& [id, name] : chunk.states) listed = listed || id == c.state_id;
    if (!listed) std::abort();
    if (c.key_group < 0 || c.key_group >= weir::kUpperBoundMaxParallelism) std::abort();
    if (index == 0 && !records.empty() &&
        (static_cast<uint8_t>(records.front()) & weir::kSameContextFlag) != 0) {
      std::abort();
    }
    for (std::string_view field : {c.key, c.ns, c.user_key, c.value}) {
      if (field.empty()) continue;
      const char* begin = chunk.records.data();
      const char* end = begin + chunk.records.size();
      if (field.data() < begin || field.data() + field.size() > end) std::abort();
    }
    ++index;
    return weir::Status::OK();
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto file = weir::DecodeChangelogFile(input); file.ok()) {
    for (const auto& chunk : *file) Visit(chunk, chunk.records);
  }
  if (size == 0) return 0;
  weir::ChangelogChunk chunk;
  chunk.backend_id = "agg_0";
  chunk.first_sequence = 1;
  chunk.count = 1 + data[0] % 64;
  chunk.states = {{0, "a"}, {1, "b"}, {2, "c"}};
  chunk.records = std::string(input.substr(1));
  for (auto compression : {weir::ChangelogCompression::kNone, weir::ChangelogCompression::kLz4}) {
    const std::string file =
        weir::EncodeChangelogHeader() + weir::EncodeChangelogChunk(chunk, compression);
    auto decoded = weir::DecodeChangelogFile(file);
    // A chunk the writer made always decodes as itself (its records are checked by the visit).
    if (!decoded.ok() || decoded->size() != 1 || (*decoded)[0].records != chunk.records) {
      std::abort();
    }
    Visit((*decoded)[0], chunk.records);
  }
  return 0;
}
