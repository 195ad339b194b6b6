#include "state/rocksdb/rocksdb_ttl_compaction_filter.h"

#include <string>

namespace weir {
namespace {

// One per compaction, used by its one thread.
class TtlCompactionFilter final : public rocksdb::CompactionFilter {
 public:
  TtlCompactionFilter(TtlRowFilter filter, int64_t query_time_after_entries,
                      std::shared_ptr<const TtlTimeProvider> clock)
      : filter_(filter), query_every_(query_time_after_entries), clock_(std::move(clock)) {}

  Decision FilterV2(int, const rocksdb::Slice&, ValueType type, const rocksdb::Slice& value,
                    std::string* new_value, std::string*) const override {
    // Values and merge operands (appended list elements) alike; blob indexes are not ours.
    if (type != ValueType::kValue && type != ValueType::kMergeOperand) return Decision::kKeep;
    if (seen_++ % query_every_ == 0) now_ = clock_->CurrentTimestamp();
    switch (FilterExpired(filter_, std::string_view(value.data(), value.size()), now_, new_value)) {
      case TtlRowDecision::kKeep:
        return Decision::kKeep;
      case TtlRowDecision::kDrop:
        return Decision::kRemove;
      case TtlRowDecision::kRewrite:
        return Decision::kChangeValue;
    }
    return Decision::kKeep;
  }
  const char* Name() const override { return "weir.TtlCompactionFilter"; }

 private:
  TtlRowFilter filter_;
  int64_t query_every_;
  std::shared_ptr<const TtlTimeProvider> clock_;
  mutable int64_t seen_ = 0;
  mutable int64_t now_ = 0;
};

}  // namespace

void TtlCompactionFilterFactory::Register(uint32_t column_family_id, TtlRowFilter filter,
                                          int64_t query_time_after_entries,
                                          std::shared_ptr<const TtlTimeProvider> clock) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_[column_family_id] = Entry{filter, query_time_after_entries, std::move(clock)};
}

std::unique_ptr<rocksdb::CompactionFilter> TtlCompactionFilterFactory::CreateCompactionFilter(
    const rocksdb::CompactionFilter::Context& context) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(context.column_family_id);
  if (it == entries_.end()) return nullptr;  // a state without TTL: nothing to filter
  return std::make_unique<TtlCompactionFilter>(
      it->second.filter, it->second.query_time_after_entries, it->second.clock);
}

}  // namespace weir
