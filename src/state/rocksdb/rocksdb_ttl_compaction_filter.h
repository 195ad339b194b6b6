// Expired state leaves RocksDB in the background (Flink's cleanupInRocksdbCompactFilter, always
// on here): one compaction-filter factory per database, shared by its column families; a column
// family gets a filter once its state is requested with a TTL (Register), and compactions of it
// drop rows whose values have all expired and rewrite list rows without their expired elements.
#pragma once

#include <rocksdb/compaction_filter.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "state/ttl_value.h"
#include "weir/state_ttl.h"

namespace weir {

class TtlCompactionFilterFactory final : public rocksdb::CompactionFilterFactory {
 public:
  // Any thread: compactions that start afterwards filter column family `column_family_id`.
  void Register(uint32_t column_family_id, TtlRowFilter filter, int64_t query_time_after_entries,
                std::shared_ptr<const TtlTimeProvider> clock);

  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context& context) override;
  const char* Name() const override { return "weir.TtlCompactionFilterFactory"; }

 private:
  struct Entry {
    TtlRowFilter filter;
    int64_t query_time_after_entries = 1000;
    std::shared_ptr<const TtlTimeProvider> clock;
  };
  std::mutex mu_;
  std::map<uint32_t, Entry> entries_;
};

}  // namespace weir
