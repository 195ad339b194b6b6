#include "state/ttl_snapshot_view.h"

#include <optional>
#include <vector>

#include "state/ttl_value.h"

namespace weir {
namespace {

using Filters = std::vector<std::optional<TtlRowFilter>>;  // by state index

class FilteringIterator final : public KeyGroupRowIterator {
 public:
  FilteringIterator(std::unique_ptr<KeyGroupRowIterator> inner, const Filters& filters, int64_t now)
      : inner_(std::move(inner)), filters_(filters), now_(now) {
    SkipExpired();
  }
  bool Valid() const override { return inner_->Valid(); }
  void Next() override {
    inner_->Next();
    SkipExpired();
  }
  int key_group() const override { return inner_->key_group(); }
  size_t state_index() const override { return inner_->state_index(); }
  std::string_view key() const override { return inner_->key(); }
  std::string_view value() const override { return rewritten_ ? kept_ : inner_->value(); }
  Status status() const override { return inner_->status(); }

 private:
  void SkipExpired() {
    rewritten_ = false;
    for (; inner_->Valid(); inner_->Next()) {
      const size_t index = inner_->state_index();
      if (index >= filters_.size() || !filters_[index]) return;
      switch (FilterExpired(*filters_[index], inner_->value(), now_, &kept_)) {
        case TtlRowDecision::kKeep:
          return;
        case TtlRowDecision::kRewrite:
          rewritten_ = true;
          return;
        case TtlRowDecision::kDrop:
          break;
      }
    }
  }

  std::unique_ptr<KeyGroupRowIterator> inner_;
  const Filters& filters_;
  int64_t now_;
  std::string kept_;
  bool rewritten_ = false;
};

class FilteringView final : public StateSnapshotView {
 public:
  FilteringView(std::unique_ptr<StateSnapshotView> inner, Filters filters, int64_t now)
      : inner_(std::move(inner)), filters_(std::move(filters)), now_(now) {}
  const std::vector<StateMetaInfo>& states() const override { return inner_->states(); }
  std::unique_ptr<KeyGroupRowIterator> NewIterator() const override {
    return std::make_unique<FilteringIterator>(inner_->NewIterator(), filters_, now_);
  }

 private:
  std::unique_ptr<StateSnapshotView> inner_;
  Filters filters_;
  int64_t now_;
};

}  // namespace

std::unique_ptr<StateSnapshotView> WithoutExpiredState(
    std::unique_ptr<StateSnapshotView> view,
    const std::map<std::string, StateTtlConfig, std::less<>>& ttl, int64_t now) {
  Filters filters;
  bool any = false;
  for (const StateMetaInfo& s : view->states()) {
    auto it = ttl.find(s.name);
    if (s.ttl && it != ttl.end()) {
      filters.push_back(TtlRowFilter{s.kind == StateKind::kList, it->second.ttl.count()});
      any = true;
    } else {
      filters.emplace_back();
    }
  }
  if (!any) return view;
  return std::make_unique<FilteringView>(std::move(view), std::move(filters), now);
}

}  // namespace weir
