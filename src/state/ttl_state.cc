// The TTL view of a raw state (KeyedStateBackend::WrapWithTtl): stamps what is written, hides or
// removes what has expired when it is read, and refreshes what is read under kOnReadAndWrite.
// Backend-neutral: it sees only the raw rows, so every backend stores TTL state alike and their
// full snapshots stay interchangeable.
#include <utility>
#include <vector>

#include "state/ttl_value.h"
#include "weir/keyed_state_backend.h"

namespace weir {
namespace {

using Visibility = StateTtlConfig::StateVisibility;
using UpdateType = StateTtlConfig::UpdateType;

class TtlRawKeyedState final : public RawKeyedState {
 public:
  TtlRawKeyedState(RawKeyedState* inner, StateTtlConfig config,
                   std::shared_ptr<const TtlTimeProvider> clock)
      : inner_(inner), config_(config), clock_(std::move(clock)) {}

  const StateMetaInfo& meta() const override { return inner_->meta(); }
  void SetCurrentNamespace(std::string_view ns) override { inner_->SetCurrentNamespace(ns); }

  Result<std::optional<std::string>> Get(std::string_view user_key) override {
    WEIR_ASSIGN_OR_RETURN(auto stored, inner_->Get(user_key));
    if (!stored) return stored;
    WEIR_ASSIGN_OR_RETURN(RowRead read, ReadRow(*stored));
    WEIR_RETURN_IF_ERROR(WriteBack(user_key, read));
    return std::move(read.visible);
  }

  Status Put(std::string_view user_key, std::string_view value) override {
    if (!IsList()) return inner_->Put(user_key, Stamp(value));
    WEIR_ASSIGN_OR_RETURN(std::string row, StampElements(value));
    return inner_->Put(user_key, row);
  }

  Status Append(std::string_view operand) override {
    WEIR_ASSIGN_OR_RETURN(std::string row, StampElements(operand));
    return inner_->Append(row);
  }

  Status Delete(std::string_view user_key) override { return inner_->Delete(user_key); }
  Status Clear() override { return inner_->Clear(); }

  Status ForEachRow(const std::function<bool(std::string_view, std::string_view)>& visit) override {
    // Removals and refreshes wait until the iteration is over: no backend is asked to change
    // the rows it is iterating.
    std::vector<std::pair<std::string, RowRead>> changes;
    Status error;
    WEIR_RETURN_IF_ERROR(
        inner_->ForEachRow([&](std::string_view user_key, std::string_view stored) {
          auto read = ReadRow(stored);
          if (!read.ok()) {
            error = read.status();
            return false;
          }
          const bool go_on = !read->visible || visit(user_key, *read->visible);
          if (read->change != Change::kNone) changes.emplace_back(user_key, std::move(*read));
          return go_on;
        }));
    WEIR_RETURN_IF_ERROR(error);
    for (const auto& [user_key, read] : changes) {
      WEIR_RETURN_IF_ERROR(WriteBack(user_key, read));
    }
    return Status::OK();
  }

 private:
  enum class Change { kNone, kDelete, kRewrite };
  // What a read of one stored row returns, and what it changes in the store.
  struct RowRead {
    std::optional<std::string> visible;
    Change change = Change::kNone;
    std::string rewritten;  // the new stored row when kRewrite
  };

  bool IsList() const { return meta().kind == StateKind::kList; }
  int64_t Now() const { return clock_->CurrentTimestamp(); }
  bool ReturnExpired() const {
    return config_.visibility == Visibility::kReturnExpiredIfNotCleanedUp;
  }
  bool RefreshOnRead() const { return config_.update_type == UpdateType::kOnReadAndWrite; }

  std::string Stamp(std::string_view value) const {
    std::string out;
    out.reserve(kTtlTimestampBytes + value.size());
    AppendTtlValue(&out, Now(), value);
    return out;
  }

  Status Malformed(const char* what) const {
    return Status::Corruption("state '" + meta().name + "' (with a time-to-live): " + what);
  }

  // A list row from the typed layer, each element stamped with now.
  Result<std::string> StampElements(std::string_view row) const {
    const int64_t now = Now();
    std::string out, stamped;
    for (std::string_view element; !row.empty();) {
      if (!list_row::ReadElement(&row, &element)) {
        return Malformed("malformed list element framing");
      }
      stamped.clear();
      AppendTtlValue(&stamped, now, element);
      list_row::AppendElement(&out, stamped);
    }
    return out;
  }

  Result<RowRead> ReadRow(std::string_view stored) const {
    return IsList() ? ReadListRow(stored) : ReadValueRow(stored);
  }

  Result<RowRead> ReadValueRow(std::string_view stored) const {
    int64_t timestamp = 0;
    std::string_view user;
    if (!ParseTtlValue(stored, &timestamp, &user)) {
      return Malformed("a stored value is too short to carry its timestamp");
    }
    RowRead read;
    const int64_t now = Now();
    if (TtlExpired(timestamp, config_.ttl.count(), now)) {
      read.change = Change::kDelete;
      if (ReturnExpired()) read.visible.emplace(user);
      return read;
    }
    read.visible.emplace(user);
    if (RefreshOnRead() && timestamp != now) {
      read.change = Change::kRewrite;
      AppendTtlValue(&read.rewritten, now, user);
    }
    return read;
  }

  Result<RowRead> ReadListRow(std::string_view stored) const {
    const int64_t now = Now();
    RowRead read;
    std::string visible, kept;
    bool changed = false;
    int64_t timestamp = 0;
    std::string_view element, user;
    for (std::string_view in = stored; !in.empty();) {
      if (!list_row::ReadElement(&in, &element)) return Malformed("malformed list element framing");
      if (!ParseTtlValue(element, &timestamp, &user)) {
        return Malformed("a list element is too short to carry its timestamp");
      }
      const bool expired = TtlExpired(timestamp, config_.ttl.count(), now);
      if (!expired || ReturnExpired()) list_row::AppendElement(&visible, user);
      if (expired) {
        changed = true;
      } else if (RefreshOnRead() && timestamp != now) {
        std::string restamped;
        AppendTtlValue(&restamped, now, user);
        list_row::AppendElement(&kept, restamped);
        changed = true;
      } else {
        list_row::AppendElement(&kept, element);
      }
    }
    if (!visible.empty()) read.visible = std::move(visible);
    if (changed) {
      read.change = kept.empty() ? Change::kDelete : Change::kRewrite;
      read.rewritten = std::move(kept);
    }
    return read;
  }

  // Applies what a read changes; the list row is replaced whole (its remaining elements keep
  // their own timestamps).
  Status WriteBack(std::string_view user_key, const RowRead& read) {
    switch (read.change) {
      case Change::kNone:
        return Status::OK();
      case Change::kDelete:
        return inner_->Delete(user_key);
      case Change::kRewrite:
        return inner_->Put(user_key, read.rewritten);
    }
    return Status::OK();
  }

  RawKeyedState* inner_;
  StateTtlConfig config_;
  std::shared_ptr<const TtlTimeProvider> clock_;
};

const char* UpdateTypeName(UpdateType t) {
  return t == UpdateType::kOnReadAndWrite ? "on read and write" : "on create and write";
}

const char* VisibilityName(Visibility v) {
  return v == Visibility::kReturnExpiredIfNotCleanedUp ? "return expired if not cleaned up"
                                                       : "never return expired";
}

}  // namespace

std::string DescribeTtl(const StateTtlConfig& config) {
  if (!config.enabled()) return "no time-to-live";
  return "time-to-live " + std::to_string(config.ttl.count()) + " ms (" +
         UpdateTypeName(config.update_type) + ", " + VisibilityName(config.visibility) + ")";
}

std::shared_ptr<const TtlTimeProvider> DefaultTtlTimeProvider() {
  static const auto clock = std::make_shared<const SystemTtlTimeProvider>();
  return clock;
}

void KeyedStateBackend::SetTtlTimeProvider(std::shared_ptr<const TtlTimeProvider> provider) {
  ttl_clock_ = provider ? std::move(provider) : DefaultTtlTimeProvider();
}

Status KeyedStateBackend::CheckTtl(const std::string& state, const StateTtlConfig& ttl) {
  if (ttl.ttl.count() < 0) {
    return Status::InvalidArgument("state '" + state + "': a time-to-live must be positive, not " +
                                   std::to_string(ttl.ttl.count()) + " ms");
  }
  if (ttl.compaction_filter_query_time_after_entries < 1) {
    return Status::InvalidArgument(
        "state '" + state + "': compaction_filter_query_time_after_entries must be at least 1, " +
        "not " + std::to_string(ttl.compaction_filter_query_time_after_entries));
  }
  return Status::OK();
}

Result<RawKeyedState*> KeyedStateBackend::WrapWithTtl(RawKeyedState* raw,
                                                      const StateTtlConfig& ttl) {
  WEIR_RETURN_IF_ERROR(OnTtlStateRegistered(raw->meta(), ttl));
  ttl_configs_.emplace(raw->meta().name, ttl);
  ttl_states_.push_back(std::make_unique<TtlRawKeyedState>(raw, ttl, ttl_clock_));
  return ttl_states_.back().get();
}

}  // namespace weir
