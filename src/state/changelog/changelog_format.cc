#include "state/changelog/changelog_format.h"

#include <lz4.h>

#include <cstring>
#include <set>
#include <utility>

#include "common/checksum.h"
#include "common/coding.h"
#include "weir/key_group.h"

namespace weir {
namespace {

Status Corrupt(const std::string& what) {
  return Status::Corruption("state-change log chunk: " + what);
}

// lz4's speed-for-ratio knob (1 = LZ4_compress_default). On keyed-aggregate's records, 2 kept
// the ratio of 1 (0.773) at 1.34x its speed; 4 was faster again but lost 4% of the ratio. The
// log writer's CPU is taken from the tasks on a loaded machine.
constexpr int kLz4Acceleration = 2;

}  // namespace

const char* StateChangeOpName(StateChangeOp op) {
  switch (op) {
    case StateChangeOp::kPut:
      return "put";
    case StateChangeOp::kDelete:
      return "delete";
    case StateChangeOp::kAppend:
      return "append";
    case StateChangeOp::kClear:
      return "clear";
  }
  return "unknown";
}

void StateChangeEncoder::Add(StateChangeOp op, uint32_t state_id, int key_group,
                             std::string_view key, std::string_view ns, std::string_view user_key,
                             std::string_view value) {
  const size_t at = records_.size();
  const bool same = count_ > 0 && key_group == key_group_ &&
                    SameBytes(key, std::string_view(records_).substr(key_at_, key_size_)) &&
                    SameBytes(ns, std::string_view(records_).substr(ns_at_, ns_size_));
  records_.resize(at + MaxStateChangeBytes(key, ns, user_key, value));
  EncodedContext context;
  char* end = EncodeStateChange(records_.data() + at, op, state_id, key_group, key, ns, user_key,
                                value, same, &context);
  if (!same) {
    key_group_ = key_group;
    key_at_ = static_cast<size_t>(context.key.data() - records_.data());
    key_size_ = context.key.size();
    ns_at_ = static_cast<size_t>(context.ns.data() - records_.data());
    ns_size_ = context.ns.size();
  }
  records_.resize(static_cast<size_t>(end - records_.data()));
  ++count_;
}

std::string StateChangeEncoder::Take(uint64_t* count) {
  *count = count_;
  count_ = 0;
  return std::exchange(records_, std::string());
}

std::string EncodeChangelogHeader() {
  std::string header(kChangelogMagic);
  PutFixed32(&header, kChangelogVersion);
  return header;
}

std::string EncodeChangelogChunk(const ChangelogChunk& chunk, ChangelogCompression compression) {
  std::string out;
  std::string scratch;
  AppendChangelogChunk(&out, chunk, compression, &scratch);
  return out;
}

void AppendChangelogChunk(std::string* out, const ChangelogChunk& chunk,
                          ChangelogCompression compression, std::string* scratch) {
  const std::string_view records[] = {chunk.records};
  std::string staging;  // unused: the records are one piece
  AppendChangelogChunk(out, ChunkPieces(chunk, records), compression, scratch, &staging,
                       /*file_checksum=*/nullptr);
}

ChangelogChunkPieces ChunkPieces(const ChangelogChunk& chunk,
                                 std::span<const std::string_view> records) {
  ChangelogChunkPieces pieces;
  pieces.backend_id = chunk.backend_id;
  pieces.first_sequence = chunk.first_sequence;
  pieces.count = chunk.count;
  pieces.states = chunk.states;
  pieces.records = records;
  return pieces;
}

namespace {

// A chunk's records copied into the file, after they were hashed: the writer's file is copied
// around the caches (see PageAlignedBuffer).
void AppendRecords(std::string* out, std::string_view records) { out->append(records); }
void AppendRecords(PageAlignedBuffer* out, std::string_view records) {
  out->AppendStreaming(records);
}

// AppendChangelogChunk into either kind of buffer.
template <class Bytes>
void AppendChunkPieces(Bytes* out, const ChangelogChunkPieces& chunk,
                       ChangelogCompression compression, std::string* scratch, std::string* staging,
                       StreamingChecksum* file_checksum) {
  size_t raw_size = 0;
  for (std::string_view piece : chunk.records) raw_size += piece.size();
  // What is stored: the records as they are, or lz4 of them (from one piece).
  std::span<const std::string_view> stored = chunk.records;
  std::string_view compressed;
  if (compression == ChangelogCompression::kLz4 && raw_size > 0) {
    std::string_view contiguous;
    if (chunk.records.size() == 1) {
      contiguous = chunk.records.front();
    } else {
      staging->clear();
      for (std::string_view piece : chunk.records) staging->append(piece);
      contiguous = *staging;
    }
    const auto bound = static_cast<size_t>(LZ4_compressBound(static_cast<int>(raw_size)));
    // Grown, never shrunk: growing a string zero-fills what it adds, batch after batch.
    if (scratch->size() < bound) scratch->resize(bound);
    const int n =
        LZ4_compress_fast(contiguous.data(), scratch->data(), static_cast<int>(contiguous.size()),
                          static_cast<int>(scratch->size()), kLz4Acceleration);
    if (n > 0 && static_cast<size_t>(n) < raw_size) {
      compressed = std::string_view(scratch->data(), static_cast<size_t>(n));
      stored = std::span<const std::string_view>(&compressed, 1);
    } else {
      compression = ChangelogCompression::kNone;  // incompressible: stored as is
    }
  } else {
    compression = ChangelogCompression::kNone;
  }
  size_t stored_size = 0;
  for (std::string_view piece : stored) stored_size += piece.size();

  // The body up to its stored records, then its size: both known before the records are copied.
  std::string head;
  PutLengthPrefixed(&head, chunk.backend_id);
  PutVarint64(&head, chunk.first_sequence);
  PutVarint64(&head, chunk.count);
  PutVarint32(&head, static_cast<uint32_t>(chunk.states.size()));
  for (const auto& [id, name] : chunk.states) {
    PutVarint32(&head, id);
    PutLengthPrefixed(&head, name);
  }
  head.push_back(static_cast<char>(compression));
  PutVarint64(&head, raw_size);
  PutVarint64(&head, stored_size);
  std::string body_size;
  PutFixed32(&body_size, static_cast<uint32_t>(head.size() + stored_size));

  StreamingChecksum body_checksum;
  out->append(body_size);
  if (file_checksum) file_checksum->Update(body_size);
  out->append(head);
  body_checksum.Update(head);
  if (file_checksum) file_checksum->Update(head);
  out->reserve(out->size() + stored_size + 8);
  constexpr size_t kStep = 64 << 10;  // copied while the hashing left it in the cache
  for (std::string_view piece : stored) {
    for (size_t from = 0; from < piece.size(); from += kStep) {
      const std::string_view step = piece.substr(from, kStep);
      body_checksum.Update(step);
      if (file_checksum) file_checksum->Update(step);
      AppendRecords(out, step);
    }
  }
  std::string trailer;
  PutFixed64(&trailer, body_checksum.Digest());
  out->append(trailer);
  if (file_checksum) file_checksum->Update(trailer);
}

}  // namespace

void AppendChangelogChunk(std::string* out, const ChangelogChunkPieces& chunk,
                          ChangelogCompression compression, std::string* scratch,
                          std::string* staging, StreamingChecksum* file_checksum) {
  AppendChunkPieces(out, chunk, compression, scratch, staging, file_checksum);
}

void AppendChangelogChunk(PageAlignedBuffer* out, const ChangelogChunkPieces& chunk,
                          ChangelogCompression compression, std::string* scratch,
                          std::string* staging, StreamingChecksum* file_checksum) {
  AppendChunkPieces(out, chunk, compression, scratch, staging, file_checksum);
}

Result<ChangelogChunk> DecodeChangelogChunk(std::string_view* in) {
  uint32_t body_size = 0;
  if (!GetFixed32(in, &body_size)) return Corrupt("truncated before its size");
  if (body_size > kMaxChangelogChunkBytes || in->size() < uint64_t{body_size} + 8) {
    return Corrupt("size " + std::to_string(body_size) + " exceeds the " +
                   std::to_string(in->size()) + " bytes left");
  }
  std::string_view body = in->substr(0, body_size);
  const uint64_t checksum = DecodeFixed64(in->data() + body_size);
  in->remove_prefix(uint64_t{body_size} + 8);
  if (Hash64(body) != checksum) return Corrupt("checksum mismatch");

  ChangelogChunk chunk;
  std::string_view backend_id, payload;
  uint32_t states = 0;
  if (!GetLengthPrefixed(&body, &backend_id) || !GetVarint64(&body, &chunk.first_sequence) ||
      !GetVarint64(&body, &chunk.count) || !GetVarint32(&body, &states)) {
    return Corrupt("malformed header");
  }
  chunk.backend_id = std::string(backend_id);
  if (chunk.first_sequence == 0 || chunk.count == 0 ||
      chunk.first_sequence + chunk.count < chunk.first_sequence) {
    return Corrupt("backend " + chunk.backend_id + ": bad sequence range");
  }
  std::set<uint32_t> ids;
  for (uint32_t i = 0; i < states; ++i) {
    uint32_t id = 0;
    std::string_view name;
    if (!GetVarint32(&body, &id) || !GetLengthPrefixed(&body, &name) || name.empty() ||
        !ids.insert(id).second) {
      return Corrupt("backend " + chunk.backend_id + ": malformed state table");
    }
    chunk.states.emplace_back(id, std::string(name));
  }
  uint64_t raw_size = 0;
  if (body.empty()) return Corrupt("backend " + chunk.backend_id + ": no records");
  const auto compression = static_cast<uint8_t>(body.front());
  body.remove_prefix(1);
  if (!GetVarint64(&body, &raw_size) || !GetLengthPrefixed(&body, &payload) || !body.empty()) {
    return Corrupt("backend " + chunk.backend_id + ": malformed records");
  }
  if (raw_size > kMaxChangelogChunkBytes) {
    return Corrupt("backend " + chunk.backend_id + ": records of " + std::to_string(raw_size) +
                   " bytes exceed the limit");
  }
  if (compression == static_cast<uint8_t>(ChangelogCompression::kNone)) {
    if (payload.size() != raw_size) return Corrupt("backend " + chunk.backend_id + ": bad size");
    chunk.records = std::string(payload);
  } else if (compression == static_cast<uint8_t>(ChangelogCompression::kLz4)) {
    // LZ4 expands at most 255 to 1: a larger claim is a crafted size, refused before allocating.
    if (raw_size > payload.size() * 255 + 16) {
      return Corrupt("backend " + chunk.backend_id + ": implausible uncompressed size");
    }
    chunk.records.resize(raw_size);
    const int n = LZ4_decompress_safe(payload.data(), chunk.records.data(),
                                      static_cast<int>(payload.size()), static_cast<int>(raw_size));
    if (n < 0 || static_cast<uint64_t>(n) != raw_size) {
      return Corrupt("backend " + chunk.backend_id + ": records do not decompress");
    }
  } else {
    return Corrupt("backend " + chunk.backend_id + ": unknown compression " +
                   std::to_string(compression));
  }
  return chunk;
}

Result<std::vector<ChangelogChunk>> DecodeChangelogFile(std::string_view file) {
  if (file.size() < kChangelogHeaderSize ||
      file.substr(0, kChangelogMagic.size()) != kChangelogMagic) {
    return Status::Corruption("not a state-change log file (no WEIRDSTL header)");
  }
  const uint32_t version = DecodeFixed32(file.data() + kChangelogMagic.size());
  if (version < kOldestChangelogVersion || version > kChangelogVersion) {
    return Status::Corruption("state-change log file of version " + std::to_string(version) +
                              "; this weir reads versions " +
                              std::to_string(kOldestChangelogVersion) + " to " +
                              std::to_string(kChangelogVersion));
  }
  file.remove_prefix(kChangelogHeaderSize);
  std::vector<ChangelogChunk> chunks;
  while (!file.empty()) {
    auto chunk = DecodeChangelogChunk(&file);
    if (!chunk.ok()) {
      return chunk.status().WithContext("chunk " + std::to_string(chunks.size() + 1));
    }
    chunks.push_back(std::move(chunk).value());
  }
  return chunks;
}

Status ForEachStateChange(const ChangelogChunk& chunk,
                          const std::function<Status(const StateChange&)>& visit) {
  std::set<uint32_t> known;
  for (const auto& s : chunk.states) known.insert(s.first);
  std::string_view in = chunk.records;
  // The last context given in full (views of `in`'s bytes), for records flagged same context.
  uint32_t previous_key_group = 0;
  std::string_view previous_key, previous_ns;
  for (uint64_t i = 0; i < chunk.count; ++i) {
    const auto where = [&] {
      return "backend " + chunk.backend_id + ", record " + std::to_string(chunk.first_sequence + i);
    };
    StateChange c;
    uint32_t key_group = 0;
    if (in.empty()) return Corrupt(where() + ": missing");
    const auto flagged = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    const bool same_context = (flagged & kSameContextFlag) != 0;
    const auto op = static_cast<uint8_t>(flagged & ~kSameContextFlag);
    if (op < 1 || op > 4) return Corrupt(where() + ": unknown operation " + std::to_string(op));
    c.op = static_cast<StateChangeOp>(op);
    if (same_context && i == 0) {
      return Corrupt(where() + ": the chunk's first record refers to a record before it");
    }
    if (!GetVarint32(&in, &c.state_id) ||
        (!same_context && (!GetVarint32(&in, &key_group) || !GetLengthPrefixed(&in, &c.key) ||
                           !GetLengthPrefixed(&in, &c.ns))) ||
        (HasUserKey(c.op) && !GetLengthPrefixed(&in, &c.user_key)) ||
        (HasValue(c.op) && !GetLengthPrefixed(&in, &c.value))) {
      return Corrupt(where() + ": malformed");
    }
    if (same_context) {
      key_group = previous_key_group;
      c.key = previous_key;
      c.ns = previous_ns;
    } else {
      previous_key_group = key_group;
      previous_key = c.key;
      previous_ns = c.ns;
    }
    if (!known.count(c.state_id)) {
      return Corrupt(where() + ": names state id " + std::to_string(c.state_id) +
                     ", which the chunk does not list");
    }
    if (key_group >= static_cast<uint32_t>(kUpperBoundMaxParallelism))
      return Corrupt(where() + ": key group out of range");
    c.key_group = static_cast<int>(key_group);
    WEIR_RETURN_IF_ERROR(visit(c));
  }
  if (!in.empty()) return Corrupt("backend " + chunk.backend_id + ": bytes after the last record");
  return Status::OK();
}

}  // namespace weir
