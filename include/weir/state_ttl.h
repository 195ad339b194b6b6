// State time-to-live (Flink's StateTtlConfig): a state registered with a TTL keeps, beside each
// value (each list element, each map entry), the time it was last written (or read, by the
// update type). Once that time plus the TTL has passed, the value is expired: reads never return
// it (unless the visibility says otherwise), reads and writes remove it, full snapshots and
// canonical savepoints skip it, and the RocksDB backend's compaction filter drops it in the
// background.
//
// Time is processing time from the backend's TtlTimeProvider (wall-clock milliseconds unless a
// test injects its own). Enabling or disabling TTL on a state changes how its values are stored,
// so a checkpoint's state cannot be restored with the other setting; the TTL itself may change.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace weir {

struct StateTtlConfig {
  // When a value's timestamp is refreshed.
  enum class UpdateType : uint8_t {
    kOnCreateAndWrite,  // on every write (Flink's OnCreateAndWrite, the default)
    kOnReadAndWrite,    // also whenever a read returns it
  };
  // Whether an expired value that is still stored may be returned.
  enum class StateVisibility : uint8_t {
    kNeverReturnExpired,          // the default
    kReturnExpiredIfNotCleanedUp  // returned by the read that finds it, which removes it
  };

  // 0: the state has no TTL; negative is an error.
  std::chrono::milliseconds ttl{0};
  UpdateType update_type = UpdateType::kOnCreateAndWrite;
  StateVisibility visibility = StateVisibility::kNeverReturnExpired;
  // The RocksDB compaction filter reads the clock once per this many entries it looks at (Flink's
  // cleanupInRocksdbCompactFilter(queryTimeAfterNumEntries)).
  int64_t compaction_filter_query_time_after_entries = 1000;

  bool enabled() const { return ttl.count() != 0; }
  bool operator==(const StateTtlConfig&) const = default;

  // Flink's StateTtlConfig.newBuilder(ttl): the defaults with that TTL.
  static StateTtlConfig Of(std::chrono::milliseconds ttl) {
    StateTtlConfig c;
    c.ttl = ttl;
    return c;
  }
};

// "ttl 60000 ms, on create and write, never return expired": how errors and tools name a config.
std::string DescribeTtl(const StateTtlConfig& config);

// The clock TTL is measured with; called from the backend's thread and from RocksDB's compaction
// threads, so implementations are thread-safe.
class TtlTimeProvider {
 public:
  virtual ~TtlTimeProvider() = default;
  // Milliseconds since the Unix epoch.
  virtual int64_t CurrentTimestamp() const = 0;
};

class SystemTtlTimeProvider final : public TtlTimeProvider {
 public:
  int64_t CurrentTimestamp() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A clock that moves only when told (tests of jobs and backends).
class ManualTtlTimeProvider final : public TtlTimeProvider {
 public:
  explicit ManualTtlTimeProvider(int64_t now_ms = 0) : now_(now_ms) {}
  int64_t CurrentTimestamp() const override { return now_.load(std::memory_order_relaxed); }
  void Set(int64_t now_ms) { now_.store(now_ms, std::memory_order_relaxed); }
  void Advance(std::chrono::milliseconds by) { now_.fetch_add(by.count()); }

 private:
  std::atomic<int64_t> now_;
};

std::shared_ptr<const TtlTimeProvider> DefaultTtlTimeProvider();

}  // namespace weir
