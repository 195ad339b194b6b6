#include "state/rocksdb/rocksdb_row_prefix.h"

#include <string>

#include "state/row_key.h"

namespace weir {
namespace {

class RowKeyPrefix final : public rocksdb::SliceTransform {
 public:
  explicit RowKeyPrefix(int prefix_bytes)
      : prefix_bytes_(prefix_bytes), name_("weir.RowKeyPrefix.kg" + std::to_string(prefix_bytes)) {}

  const char* Name() const override { return name_.c_str(); }

  // Every key has a prefix: a key that does not parse as a row key (none is written) is its own.
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    RowKeyParts parts;
    if (!ParseRowKey(std::string_view(key.data(), key.size()), prefix_bytes_, &parts)) return key;
    const char* end = parts.name_space.data() + parts.name_space.size();
    return rocksdb::Slice(key.data(), static_cast<size_t>(end - key.data()));
  }
  bool InDomain(const rocksdb::Slice&) const override { return true; }

 private:
  int prefix_bytes_;
  std::string name_;
};

}  // namespace

std::shared_ptr<const rocksdb::SliceTransform> NewRowKeyPrefixExtractor(int prefix_bytes) {
  return std::make_shared<RowKeyPrefix>(prefix_bytes);
}

}  // namespace weir
