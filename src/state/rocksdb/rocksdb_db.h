// Internals shared by the RocksDB backend's .cc files: the open database with its column
// families, and the conversion of rocksdb::Status to weir's Status.
#pragma once

#include <rocksdb/db.h>

#include <map>
#include <string>

#include "state/rocksdb/rocksdb_keyed_state_backend.h"

namespace weir {

struct RocksDbKeyedStateBackend::Db {
  rocksdb::DB* db = nullptr;
  rocksdb::ColumnFamilyOptions cf_options;
  // Column family per state name. Changed only on the backend owner's thread.
  std::map<std::string, rocksdb::ColumnFamilyHandle*, std::less<>> column_families;

  Db() = default;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();
};

Status FromRocksDb(const rocksdb::Status& s, const std::string& context);

// Writes never go to the WAL: durability comes from checkpoints.
const rocksdb::WriteOptions& StateWriteOptions();

// The column family that holds state `state_name` ("default" stays unused, so any state name is
// allowed).
std::string ColumnFamilyName(std::string_view state_name);

}  // namespace weir
