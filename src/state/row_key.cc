#include "state/row_key.h"

#include "common/coding.h"

namespace weir {

void AppendKeyGroupPrefix(std::string* out, int key_group, int prefix_bytes) {
  if (prefix_bytes == 1) {
    out->push_back(static_cast<char>(key_group));
  } else {
    PutBigEndian16(out, static_cast<uint16_t>(key_group));
  }
}

std::string EncodeKeyPrefix(int key_group, int prefix_bytes, std::string_view key) {
  std::string out;
  out.reserve(prefix_bytes + 5 + key.size());
  AppendKeyGroupPrefix(&out, key_group, prefix_bytes);
  PutLengthPrefixed(&out, key);
  return out;
}

void AppendNamespace(std::string* out, std::string_view name_space) {
  PutLengthPrefixed(out, name_space);
}

bool ParseRowKey(std::string_view row_key, int prefix_bytes, RowKeyParts* parts) {
  if (row_key.size() < static_cast<size_t>(prefix_bytes)) return false;
  const auto b0 = static_cast<unsigned char>(row_key[0]);
  parts->key_group = prefix_bytes == 1 ? b0 : (b0 << 8) | static_cast<unsigned char>(row_key[1]);
  row_key.remove_prefix(prefix_bytes);
  if (!GetLengthPrefixed(&row_key, &parts->key)) return false;
  if (!GetLengthPrefixed(&row_key, &parts->name_space)) return false;
  parts->user_key = row_key;
  return true;
}

std::string PrefixSuccessor(std::string_view prefix) {
  std::string out(prefix);
  while (!out.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(out.back());
    if (last != 0xff) {
      ++last;
      return out;
    }
    out.pop_back();
  }
  return out;
}

}  // namespace weir
