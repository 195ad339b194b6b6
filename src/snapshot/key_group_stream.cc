#include "snapshot/key_group_stream.h"

#include "common/checksum.h"
#include "common/coding.h"
#include "state/state_meta_coding.h"

namespace weir {
namespace {

constexpr std::string_view kMagic = "WEIRKGS1";
constexpr uint32_t kVersion = 1;
constexpr size_t kFooterBytes = 24;
constexpr size_t kFlushBytes = 1 << 20;

// Buffers appends and checksums exactly the bytes that reach the file.
class ChecksummedWriter {
 public:
  explicit ChecksummedWriter(WritableFile& file) : file_(file) {}
  std::string& buffer() { return buffer_; }
  uint64_t offset() const { return written_ + buffer_.size(); }
  Status MaybeFlush() { return buffer_.size() >= kFlushBytes ? Flush() : Status::OK(); }
  Status Flush() {
    checksum_.Update(buffer_);
    WEIR_RETURN_IF_ERROR(file_.Append(buffer_));
    written_ += buffer_.size();
    buffer_.clear();
    return Status::OK();
  }
  uint64_t checksum() const { return checksum_.Digest(); }

 private:
  WritableFile& file_;
  std::string buffer_;
  uint64_t written_ = 0;
  StreamingChecksum checksum_;
};

void EncodeStates(const std::vector<StateMetaInfo>& states, std::string* out) {
  PutVarint64(out, states.size());
  for (const auto& s : states) {
    PutLengthPrefixed(out, s.name);
    out->push_back(static_cast<char>(EncodeStateKindByte(s)));
    PutLengthPrefixed(out, s.value_serializer);
    PutLengthPrefixed(out, s.user_key_serializer);
  }
}

}  // namespace

Result<WrittenFile> WriteKeyGroupStream(const StateSnapshotView& view, int max_parallelism,
                                        KeyGroupRange range, WritableFile& file) {
  ChecksummedWriter w(file);
  std::string& buf = w.buffer();
  buf.append(kMagic);
  PutFixed32(&buf, kVersion);
  PutVarint64(&buf, static_cast<uint64_t>(max_parallelism));
  PutVarint64(&buf, static_cast<uint64_t>(range.start));
  PutVarint64(&buf, static_cast<uint64_t>(range.end));
  EncodeStates(view.states(), &buf);

  std::vector<uint64_t> offsets;
  offsets.reserve(range.size());
  uint64_t rows = 0;
  auto it = view.NewIterator();
  for (int group = range.start; group <= range.end; ++group) {
    offsets.push_back(w.offset());
    for (; it->Valid() && it->key_group() == group; it->Next()) {
      PutVarint64(&buf, it->state_index() + 1);
      PutLengthPrefixed(&buf, it->key());
      PutLengthPrefixed(&buf, it->value());
      ++rows;
      WEIR_RETURN_IF_ERROR(w.MaybeFlush());
    }
    PutVarint64(&buf, 0);
  }
  WEIR_RETURN_IF_ERROR(it->status());
  if (it->Valid()) {
    return Status::Internal("snapshot iterator returned a row outside the key-group range");
  }
  const uint64_t index_offset = w.offset();
  for (uint64_t o : offsets) PutFixed64(&buf, o);
  PutFixed64(&buf, index_offset);
  PutFixed64(&buf, rows);
  buf.append(kMagic);
  WEIR_RETURN_IF_ERROR(w.Flush());
  return WrittenFile{w.offset(), w.checksum(), rows};
}

Status KeyGroupStreamReader::Corrupt(const std::string& what) const {
  return Status::Corruption(name_ + ": " + what);
}

Result<std::unique_ptr<KeyGroupStreamReader>> KeyGroupStreamReader::Open(
    std::unique_ptr<ReadableFile> file, std::string name) {
  std::unique_ptr<KeyGroupStreamReader> r(new KeyGroupStreamReader());
  r->file_ = std::move(file);
  r->name_ = std::move(name);
  const uint64_t size = r->file_->Size();
  if (size < kMagic.size() + 4 + kFooterBytes) return r->Corrupt("truncated key-group stream");

  std::string footer;
  WEIR_RETURN_IF_ERROR(r->file_->ReadAt(size - kFooterBytes, kFooterBytes, &footer));
  if (footer.size() != kFooterBytes || footer.substr(16) != kMagic) {
    return r->Corrupt("bad footer (truncated, or not a key-group stream)");
  }
  const uint64_t index_offset = DecodeFixed64(footer.data());
  r->rows_ = DecodeFixed64(footer.data() + 8);

  // The header ends before the first block, which starts no later than the index.
  std::string head;
  WEIR_RETURN_IF_ERROR(r->file_->ReadAt(0, std::min<uint64_t>(index_offset, size), &head));
  std::string_view in = head;
  uint32_t version = 0;
  uint64_t max_p = 0, start = 0, end = 0, state_count = 0;
  if (in.substr(0, kMagic.size()) != kMagic) return r->Corrupt("not a key-group stream");
  in.remove_prefix(kMagic.size());
  if (!GetFixed32(&in, &version)) return r->Corrupt("truncated header");
  if (version != kVersion) {
    return r->Corrupt("format version " + std::to_string(version) + " is not supported");
  }
  if (!GetVarint64(&in, &max_p) || !GetVarint64(&in, &start) || !GetVarint64(&in, &end) ||
      !GetVarint64(&in, &state_count) || max_p == 0 || max_p > kUpperBoundMaxParallelism ||
      end >= max_p || start > end) {
    return r->Corrupt("malformed header");
  }
  auto& h = r->header_;
  h.max_parallelism = static_cast<int>(max_p);
  h.key_group_range = KeyGroupRange::Of(static_cast<int>(start), static_cast<int>(end));
  for (uint64_t i = 0; i < state_count; ++i) {
    StateMetaInfo s;
    std::string_view name, vs, ks;
    if (!GetLengthPrefixed(&in, &name) || in.empty()) return r->Corrupt("malformed state list");
    const auto kind = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    if (!DecodeStateKindByte(kind, &s) || !GetLengthPrefixed(&in, &vs) ||
        !GetLengthPrefixed(&in, &ks)) {
      return r->Corrupt("malformed state list");
    }
    s.name = name;
    s.value_serializer = vs;
    s.user_key_serializer = ks;
    h.states.push_back(std::move(s));
  }

  const uint64_t groups = static_cast<uint64_t>(h.key_group_range.size());
  if (index_offset + groups * 8 + kFooterBytes != size) return r->Corrupt("index out of place");
  std::string index;
  WEIR_RETURN_IF_ERROR(r->file_->ReadAt(index_offset, groups * 8, &index));
  if (index.size() != groups * 8) return r->Corrupt("truncated index");
  const uint64_t first_block = head.size() - in.size();
  uint64_t previous = first_block;
  for (uint64_t g = 0; g < groups; ++g) {
    const uint64_t o = DecodeFixed64(index.data() + g * 8);
    if (o < previous || o > index_offset || (g == 0 && o != first_block)) {
      return r->Corrupt("index offsets out of order");
    }
    r->block_offsets_.push_back(previous = o);
  }
  r->block_offsets_.push_back(index_offset);
  return r;
}

Status KeyGroupStreamReader::ForEachRow(const RowVisitor& visit, KeyGroupRange only) const {
  std::string block;
  const int first_group = header_.key_group_range.start;
  for (size_t g = 0; g + 1 < block_offsets_.size(); ++g) {
    const int group = first_group + static_cast<int>(g);
    if (!only.empty() && !only.Contains(group)) continue;
    const uint64_t begin = block_offsets_[g], end = block_offsets_[g + 1];
    WEIR_RETURN_IF_ERROR(file_->ReadAt(begin, end - begin, &block));
    if (block.size() != end - begin) return Corrupt("truncated block");
    std::string_view in = block;
    while (true) {
      uint64_t tag = 0;
      if (!GetVarint64(&in, &tag))
        return Corrupt("malformed row in key group " + std::to_string(group));
      if (tag == 0) break;
      std::string_view key, value;
      if (tag > header_.states.size() || !GetLengthPrefixed(&in, &key) ||
          !GetLengthPrefixed(&in, &value)) {
        return Corrupt("malformed row in key group " + std::to_string(group));
      }
      WEIR_RETURN_IF_ERROR(visit(tag - 1, group, key, value));
    }
    if (!in.empty()) return Corrupt("trailing bytes in key group " + std::to_string(group));
  }
  return Status::OK();
}

}  // namespace weir
