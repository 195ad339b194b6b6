// The prefix extractor of keyed state's column families with the hash memtable
// (state.backend.rocksdb.memtable = HASH_SKIPLIST): a row key's prefix is its key-group prefix,
// key and namespace, so every row one (key, namespace) owns — one for most states, a map's
// entries — lands in one memtable bucket, and a state access hashes its way there.
#pragma once

#include <rocksdb/slice_transform.h>

#include <memory>

namespace weir {

// `prefix_bytes`: the key-group prefix's length (KeyGroupPrefixBytes of the max parallelism).
std::shared_ptr<const rocksdb::SliceTransform> NewRowKeyPrefixExtractor(int prefix_bytes);

}  // namespace weir
