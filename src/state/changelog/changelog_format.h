// The durable state-change log's file format (the DSTL of Flink's changelog state backend).
//
// A log file holds one persisted batch of the process: every backend's changes since its
// previous batch, one chunk per backend, so that many backends make one file, not one each:
//
//   file   := magic "WEIRDSTL" | fixed32 version (2; 1 is read too) | chunk*
//   chunk  := fixed32 body size | body | fixed64 XXH3-64 of the body
//   body   := lp backend id | varint64 first sequence number | varint64 record count
//             | varint state count | (varint state id | lp state name)*
//             | u8 compression (0 none, 1 lz4) | varint raw size | lp records (compressed)
//   record := u8 op (| 0x80: same context) | varint state id
//             | varint key group | lp key | lp namespace   (unless same context)
//             | lp user key (put, delete) | lp value (put, append)
//
// A record flagged "same context" has the key group, key and namespace of the record before it
// in the chunk (version 2): a record changing several states of one key, as most do, carries
// the key once. A chunk's first record is never flagged (a chunk decodes alone).
//
// (lp: varint32 length, then the bytes.) A backend's records are numbered by sequence numbers
// it assigns (1, 2, …, from its start); a chunk holds records first..first+count-1 of one
// backend. A checkpoint references a chunk by file, offset and length (ChangelogSegment), and
// the file as a whole by size and checksum like any other state file.
//
// Values are as the backend stores them (with TTL timestamps where the state has a TTL); a
// state is named in each chunk that uses it, so a chunk decodes alone.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/checksum.h"
#include "common/coding.h"
#include "common/page_aligned.h"
#include "weir/status.h"

namespace weir {

inline constexpr std::string_view kChangelogMagic = "WEIRDSTL";
inline constexpr uint32_t kChangelogVersion = 2;
inline constexpr uint32_t kOldestChangelogVersion = 1;  // the same but for the context flag
inline constexpr uint8_t kSameContextFlag = 0x80;
inline constexpr size_t kChangelogHeaderSize = 12;  // magic + version
// Bounds that a crafted file cannot make a reader exceed.
inline constexpr uint64_t kMaxChangelogChunkBytes = uint64_t{1} << 30;

enum class StateChangeOp : uint8_t {
  kPut = 1,     // (key, namespace, user key) := value
  kDelete = 2,  // (key, namespace, user key) removed
  kAppend = 3,  // value appended to (key, namespace)'s list
  kClear = 4,   // every row of (key, namespace) removed
};

const char* StateChangeOpName(StateChangeOp op);

// One decoded record; views into the decoded chunk, valid during the visit.
struct StateChange {
  StateChangeOp op = StateChangeOp::kPut;
  uint32_t state_id = 0;
  int key_group = 0;
  std::string_view key;
  std::string_view ns;
  std::string_view user_key;
  std::string_view value;
};

inline bool HasUserKey(StateChangeOp op) {
  return op == StateChangeOp::kPut || op == StateChangeOp::kDelete;
}
inline bool HasValue(StateChangeOp op) {
  return op == StateChangeOp::kPut || op == StateChangeOp::kAppend;
}

// The most bytes one record of these fields takes (EncodeStateChange).
inline size_t MaxStateChangeBytes(std::string_view key, std::string_view ns,
                                  std::string_view user_key, std::string_view value) {
  // The operation, two varints, and up to four length-prefixed fields.
  return 1 + 2 * kMaxVarint64Bytes + 4 * kMaxVarint64Bytes + key.size() + ns.size() +
         user_key.size() + value.size();
}

namespace changelog_internal {
[[gnu::always_inline]] inline char* EncodeLengthPrefixed(char* dst, std::string_view s) {
  dst = EncodeVarint64(dst, s.size());
  const size_t n = s.size();
  if (n >= 8 && n <= 16) {
    // Keys and numbers: two overlapping 8-byte moves, not a call of memcpy.
    uint64_t head, tail;
    std::memcpy(&head, s.data(), 8);
    std::memcpy(&tail, s.data() + n - 8, 8);
    std::memcpy(dst, &head, 8);
    std::memcpy(dst + n - 8, &tail, 8);
  } else if (n > 0) {
    std::memcpy(dst, s.data(), n);
  }
  return dst + n;
}
}  // namespace changelog_internal

// Where a record's context went (EncodeStateChange): views of the bytes it wrote.
struct EncodedContext {
  std::string_view key;
  std::string_view ns;
};

// Encodes one record at `dst`, which has room for MaxStateChangeBytes; returns the byte after it.
// `same_context`: flagged, without key group, key and namespace (they are the previous
// record's); otherwise `context`, if given, receives where the key and namespace were written.
// Inline: it runs on the task's thread for every write to keyed state.
[[gnu::always_inline]] inline char* EncodeStateChange(
    char* dst, StateChangeOp op, uint32_t state_id, int key_group, std::string_view key,
    std::string_view ns, std::string_view user_key, std::string_view value,
    bool same_context = false, EncodedContext* context = nullptr) {
  using changelog_internal::EncodeLengthPrefixed;
  *dst++ = static_cast<char>(static_cast<uint8_t>(op) | (same_context ? kSameContextFlag : 0));
  dst = EncodeVarint64(dst, state_id);
  if (!same_context) {
    dst = EncodeVarint64(dst, static_cast<uint32_t>(key_group));
    dst = EncodeLengthPrefixed(dst, key);
    if (context) context->key = std::string_view(dst - key.size(), key.size());
    dst = EncodeLengthPrefixed(dst, ns);
    if (context) context->ns = std::string_view(dst - ns.size(), ns.size());
  }
  if (HasUserKey(op)) dst = EncodeLengthPrefixed(dst, user_key);
  if (HasValue(op)) dst = EncodeLengthPrefixed(dst, value);
  return dst;
}

// Whether `a` and `b` hold the same bytes; keys of 8 to 16 bytes without a call of memcmp.
[[gnu::always_inline]] inline bool SameBytes(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  if (n >= 8 && n <= 16) {
    uint64_t a0, a1, b0, b1;
    std::memcpy(&a0, a.data(), 8);
    std::memcpy(&b0, b.data(), 8);
    std::memcpy(&a1, a.data() + n - 8, 8);
    std::memcpy(&b1, b.data() + n - 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
  }
  return n == 0 || std::memcmp(a.data(), b.data(), n) == 0;
}

// Encodes records of one backend, in order, into one string (tools and tests; the log encodes
// into blocks, StateChangelog). Not thread-safe.
class StateChangeEncoder {
 public:
  void Add(StateChangeOp op, uint32_t state_id, int key_group, std::string_view key,
           std::string_view ns, std::string_view user_key, std::string_view value);
  uint64_t count() const { return count_; }
  size_t bytes() const { return records_.size(); }
  bool empty() const { return count_ == 0; }
  // The encoded records, and clears the encoder.
  std::string Take(uint64_t* count);

 private:
  std::string records_;
  uint64_t count_ = 0;
  // The last context written in full: its key group, and offsets of its key and namespace.
  int key_group_ = 0;
  size_t key_at_ = 0, key_size_ = 0, ns_at_ = 0, ns_size_ = 0;
};

enum class ChangelogCompression : uint8_t { kNone = 0, kLz4 = 1 };

struct ChangelogChunk {
  std::string backend_id;
  uint64_t first_sequence = 0;
  uint64_t count = 0;
  std::vector<std::pair<uint32_t, std::string>> states;  // id → name of every state it uses
  std::string records;                                   // encoded records (uncompressed)
  uint64_t last_sequence() const { return first_sequence + count - 1; }
};

// The file's header.
std::string EncodeChangelogHeader();
// A chunk as it is written to the file (size, body, checksum).
std::string EncodeChangelogChunk(const ChangelogChunk& chunk, ChangelogCompression compression);
// The same, appended to `out`; `scratch` holds the compressed records on the way (both are
// buffers a writer thread keeps from batch to batch).
void AppendChangelogChunk(std::string* out, const ChangelogChunk& chunk,
                          ChangelogCompression compression, std::string* scratch);

// A chunk to write whose records are held in pieces (a log's blocks), in order.
struct ChangelogChunkPieces {
  std::string_view backend_id;
  uint64_t first_sequence = 0;
  uint64_t count = 0;
  std::span<const std::pair<uint32_t, std::string>> states;
  std::span<const std::string_view> records;
};
// `chunk`'s backend, sequence numbers and states with `records` as its records.
ChangelogChunkPieces ChunkPieces(const ChangelogChunk& chunk,
                                 std::span<const std::string_view> records);
// Appends `chunk` to `out` as AppendChangelogChunk does (the same bytes as for its records in
// one string) and adds what it appends to `file_checksum` (if not null). Each piece is copied, and
// hashed for the chunk and the file while it is still in the cache: one pass over memory, not
// three. `staging` holds the records in one piece on the way to lz4.
void AppendChangelogChunk(std::string* out, const ChangelogChunkPieces& chunk,
                          ChangelogCompression compression, std::string* scratch,
                          std::string* staging, StreamingChecksum* file_checksum);
// The same into the writer's page-aligned buffer (its records with non-temporal stores: call
// PageAlignedBuffer::Fence before the buffer is written).
void AppendChangelogChunk(PageAlignedBuffer* out, const ChangelogChunkPieces& chunk,
                          ChangelogCompression compression, std::string* scratch,
                          std::string* staging, StreamingChecksum* file_checksum);
// Decodes the chunk at the front of `in` (consumed). Corruption naming what was wrong.
Result<ChangelogChunk> DecodeChangelogChunk(std::string_view* in);
// Decodes a whole file: its header, then every chunk.
Result<std::vector<ChangelogChunk>> DecodeChangelogFile(std::string_view file);
// Visits a chunk's records in order; Corruption when a record is malformed or names a state the
// chunk does not.
Status ForEachStateChange(const ChangelogChunk& chunk,
                          const std::function<Status(const StateChange&)>& visit);

}  // namespace weir
