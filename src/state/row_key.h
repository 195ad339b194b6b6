// The byte layout of a state row's key, shared by every backend and snapshot format:
//   key-group prefix (KeyGroupPrefixBytes: 1 or 2 bytes, big-endian)
//   varint length + serialized key
//   varint length + serialized namespace
//   user key (map states only; the rest of the bytes)
// Length prefixes make the parts unambiguous, and the leading key group makes each key-group
// range one contiguous byte range.
#pragma once

#include <string>
#include <string_view>

namespace weir {

struct RowKeyParts {
  int key_group = 0;
  std::string_view key;
  std::string_view name_space;
  std::string_view user_key;
};

void AppendKeyGroupPrefix(std::string* out, int key_group, int prefix_bytes);
// Key-group prefix + varint length + key.
std::string EncodeKeyPrefix(int key_group, int prefix_bytes, std::string_view key);
// Appends varint length + namespace to a key prefix.
void AppendNamespace(std::string* out, std::string_view name_space);
// False when `row_key` is not a well-formed row key.
bool ParseRowKey(std::string_view row_key, int prefix_bytes, RowKeyParts* parts);
// The smallest byte string greater than every string that starts with `prefix` ("" if none).
std::string PrefixSuccessor(std::string_view prefix);

}  // namespace weir
