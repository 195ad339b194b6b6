// The key-group stream (.kgs): a full snapshot of one backend in one self-contained file.
// The byte layout is specified in docs/checkpoint_format.md.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/file_system.h"
#include "state/state_snapshot_view.h"
#include "weir/key_group.h"

namespace weir {

struct KeyGroupStreamHeader {
  int max_parallelism = kDefaultMaxParallelism;
  KeyGroupRange key_group_range;
  std::vector<StateMetaInfo> states;
};

struct WrittenFile {
  uint64_t size = 0;
  uint64_t checksum = 0;
  uint64_t rows = 0;
};

// Writes every row of `view` to `file` (appends only; the caller syncs and closes).
Result<WrittenFile> WriteKeyGroupStream(const StateSnapshotView& view, int max_parallelism,
                                        KeyGroupRange range, WritableFile& file);

class KeyGroupStreamReader {
 public:
  // Reads header, index and footer; `name` is used in error messages. Does not verify the
  // checksum: callers verify the whole file first (VerifyStateFile).
  static Result<std::unique_ptr<KeyGroupStreamReader>> Open(std::unique_ptr<ReadableFile> file,
                                                            std::string name);

  const KeyGroupStreamHeader& header() const { return header_; }
  uint64_t rows() const { return rows_; }

  using RowVisitor = std::function<Status(size_t state_index, int key_group, std::string_view key,
                                          std::string_view value)>;
  // Visits every row, key group by key group; with `only`, just the rows of its key groups, read
  // through the index without touching the other groups' blocks (a rescaled restore).
  Status ForEachRow(const RowVisitor& visit, KeyGroupRange only = {}) const;

 private:
  KeyGroupStreamReader() = default;
  Status Corrupt(const std::string& what) const;

  std::unique_ptr<ReadableFile> file_;
  std::string name_;
  KeyGroupStreamHeader header_;
  std::vector<uint64_t> block_offsets_;  // one per key group, then the index offset
  uint64_t rows_ = 0;
};

}  // namespace weir
