// KeyedStateBackend: a subtask's keyed state. It owns the key groups of one KeyGroupRange and
// holds one table (for RocksDB: one column family) per registered state.
//
// Lifecycle: created empty or restored from a checkpoint; states are registered on first use
// through the Get*State methods (asking again by the same descriptor returns the same object;
// asking with another kind or serializer is an error); destroyed when the subtask ends.
// Threads: one thread (the subtask's) sets the current key and reads and writes state;
// snapshots read a consistent view from other threads.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "weir/key_group.h"
#include "weir/serializer.h"
#include "weir/state.h"
#include "weir/state_ttl.h"
#include "weir/status.h"

namespace weir {

class KeyedStateBackend {
 public:
  virtual ~KeyedStateBackend() = default;

  virtual const KeyGroupRange& key_group_range() const = 0;
  virtual int max_parallelism() const = 0;

  // Makes `serialized_key` the key that state accesses apply to. InvalidArgument if its key
  // group lies outside this backend's range.
  virtual Status SetCurrentKey(std::string_view serialized_key) = 0;
  virtual int current_key_group() const = 0;
  template <typename K>
  Status SetCurrentKey(const TypeSerializer<K>& serializer, const std::type_identity_t<K>& key) {
    std::string bytes;
    serializer.Serialize(key, &bytes);
    return SetCurrentKey(bytes);
  }

  // Visits each key (serialized) that has at least one row of state `state_name` in namespace
  // `serialized_namespace`, in key-group order, until `visit` returns false.
  virtual Status ForEachKey(std::string_view state_name, std::string_view serialized_namespace,
                            const std::function<bool(std::string_view key)>& visit) = 0;
  template <typename K>
  Result<std::vector<K>> GetKeys(std::string_view state_name, const TypeSerializer<K>& serializer,
                                 std::string_view serialized_namespace = {}) {
    std::vector<K> keys;
    bool malformed = false;
    WEIR_RETURN_IF_ERROR(ForEachKey(state_name, serialized_namespace, [&](std::string_view b) {
      K k{};
      if (!serializer.Deserialize(b, &k)) return !(malformed = true);
      keys.push_back(std::move(k));
      return true;
    }));
    if (malformed) {
      return Status::Corruption("state '" + std::string(state_name) +
                                "': a key does not decode with serializer " +
                                serializer.Identity());
    }
    return keys;
  }

  // The states registered so far (including those restored from a checkpoint).
  virtual std::vector<StateMetaInfo> RegisteredStates() const = 0;

  template <typename T>
  Result<ValueState<T>*> GetValueState(const ValueStateDescriptor<T>& d) {
    return GetTyped<ValueState<T>>(
        {d.name, StateKind::kValue, d.serializer->Identity(), "", d.ttl.enabled()}, d.ttl,
        [&](RawKeyedState* raw) { return std::make_unique<ValueState<T>>(raw, d.serializer); });
  }
  template <typename T>
  Result<ListState<T>*> GetListState(const ListStateDescriptor<T>& d) {
    return GetTyped<ListState<T>>(
        {d.name, StateKind::kList, d.serializer->Identity(), "", d.ttl.enabled()}, d.ttl,
        [&](RawKeyedState* raw) { return std::make_unique<ListState<T>>(raw, d.serializer); });
  }
  template <typename K, typename V>
  Result<MapState<K, V>*> GetMapState(const MapStateDescriptor<K, V>& d) {
    return GetTyped<MapState<K, V>>({d.name, StateKind::kMap, d.value_serializer->Identity(),
                                     d.key_serializer->Identity(), d.ttl.enabled()},
                                    d.ttl, [&](RawKeyedState* raw) {
                                      return std::make_unique<MapState<K, V>>(raw, d.key_serializer,
                                                                              d.value_serializer);
                                    });
  }
  template <typename T>
  Result<ReducingState<T>*> GetReducingState(const ReducingStateDescriptor<T>& d) {
    return GetTyped<ReducingState<T>>(
        {d.name, StateKind::kReducing, d.serializer->Identity(), "", d.ttl.enabled()}, d.ttl,
        [&](RawKeyedState* raw) {
          return std::make_unique<ReducingState<T>>(raw, d.reduce, d.serializer);
        });
  }
  template <typename IN, typename ACC, typename OUT>
  Result<AggregatingState<IN, OUT>*> GetAggregatingState(
      const AggregatingStateDescriptor<IN, ACC, OUT>& d) {
    return GetTyped<AggregatingState<IN, OUT>>(
        {d.name, StateKind::kAggregating, d.accumulator_serializer->Identity(), "",
         d.ttl.enabled()},
        d.ttl, [&](RawKeyedState* raw) {
          return std::make_unique<AggregatingStateImpl<IN, ACC, OUT>>(raw, d.function,
                                                                      d.accumulator_serializer);
        });
  }

  // The clock state TTL is measured with (state_ttl.h); the system clock unless set. Set it
  // before the first state with a TTL is requested.
  void SetTtlTimeProvider(std::shared_ptr<const TtlTimeProvider> provider);
  const std::shared_ptr<const TtlTimeProvider>& ttl_time_provider() const { return ttl_clock_; }
  // The TTL of each state requested with one so far, by state name.
  const std::map<std::string, StateTtlConfig, std::less<>>& ttl_configs() const {
    return ttl_configs_;
  }

 protected:
  // The changelog backend (src/state/changelog/) logs the writes of the backend it wraps.
  friend class ChangelogAccess;
  // Finds or creates the raw table of a state; an error if a state of that name exists with
  // another kind or other serializers.
  virtual Result<RawKeyedState*> GetOrCreateRawState(const StateMetaInfo& meta) = 0;
  // Called once per state, when it is first requested with a TTL (after GetOrCreateRawState):
  // where a backend cleans expired values up in the background (RocksDB's compaction filter).
  virtual Status OnTtlStateRegistered(const StateMetaInfo& /*meta*/,
                                      const StateTtlConfig& /*ttl*/) {
    return Status::OK();
  }

 private:
  // InvalidArgument naming the state unless `ttl` is positive and sound.
  static Status CheckTtl(const std::string& state, const StateTtlConfig& ttl);
  // The raw state seen through the TTL's timestamps (owned by this backend).
  Result<RawKeyedState*> WrapWithTtl(RawKeyedState* raw, const StateTtlConfig& ttl);

  template <typename S, typename Make>
  Result<S*> GetTyped(const StateMetaInfo& meta, const StateTtlConfig& ttl, Make make) {
    auto it = typed_states_.find(meta.name);
    if (it == typed_states_.end()) {
      if (ttl.enabled()) WEIR_RETURN_IF_ERROR(CheckTtl(meta.name, ttl));
      WEIR_ASSIGN_OR_RETURN(RawKeyedState * raw, GetOrCreateRawState(meta));
      if (ttl.enabled()) {
        WEIR_ASSIGN_OR_RETURN(raw, WrapWithTtl(raw, ttl));
      }
      it = typed_states_.emplace(meta.name, make(raw)).first;
    } else if (!(it->second->meta() == meta)) {
      WEIR_ASSIGN_OR_RETURN(RawKeyedState * raw, GetOrCreateRawState(meta));  // reports the clash
      (void)raw;
    } else if (ttl.enabled() && !(ttl_configs_.at(meta.name) == ttl)) {
      return Status::InvalidArgument("state '" + meta.name + "' was already requested with " +
                                     DescribeTtl(ttl_configs_.at(meta.name)) +
                                     "; it cannot be requested with " + DescribeTtl(ttl));
    }
    auto* typed = dynamic_cast<S*>(it->second.get());
    if (typed == nullptr) {
      return Status::InvalidArgument("state '" + meta.name +
                                     "' was already requested with other value types");
    }
    return typed;
  }
  std::map<std::string, std::unique_ptr<StateBase>, std::less<>> typed_states_;
  std::shared_ptr<const TtlTimeProvider> ttl_clock_ = DefaultTtlTimeProvider();
  std::map<std::string, StateTtlConfig, std::less<>> ttl_configs_;
  std::vector<std::unique_ptr<RawKeyedState>> ttl_states_;  // the views WrapWithTtl made
};

}  // namespace weir
