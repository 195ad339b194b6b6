// The backend-neutral interfaces through which snapshot strategies read a consistent copy of a
// backend's state and restore operations load rows into a fresh backend. Keeping them free of
// RocksDB types keeps rocksdb headers inside src/state/rocksdb/.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "weir/state.h"
#include "weir/status.h"

namespace weir {

// Walks the rows of every state in key-group order; within a key group state by state (in the
// view's states() order), rows in key byte order. key() excludes the key-group prefix.
class KeyGroupRowIterator {
 public:
  virtual ~KeyGroupRowIterator() = default;
  virtual bool Valid() const = 0;
  virtual void Next() = 0;
  virtual int key_group() const = 0;
  virtual size_t state_index() const = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  // Not OK when iteration stopped because of an error rather than at the end.
  virtual Status status() const = 0;
};

// All state of a backend as of one instant. Later writes to the backend are not visible. May be
// read from any one thread while the backend's owner keeps reading and writing.
class StateSnapshotView {
 public:
  virtual ~StateSnapshotView() = default;
  virtual const std::vector<StateMetaInfo>& states() const = 0;
  virtual std::unique_ptr<KeyGroupRowIterator> NewIterator() const = 0;
};

// Writes rows into a backend that is being restored; rows become visible after Finish().
class StateBulkLoader {
 public:
  virtual ~StateBulkLoader() = default;
  virtual Status Add(size_t state_index, int key_group, std::string_view key,
                     std::string_view value) = 0;
  virtual Status Finish() = 0;
};

}  // namespace weir
