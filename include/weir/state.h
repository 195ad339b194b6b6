// Keyed state for job authors: ValueState, ListState, MapState, ReducingState, AggregatingState,
// and the descriptors (name + serializers) by which they are registered in a KeyedStateBackend.
//
// Every access is scoped by (key group, current key, current namespace): the backend's current
// key (KeyedStateBackend::SetCurrentKey) and this state's namespace (SetCurrentNamespace; the
// default is the empty "void" namespace, windows use others). State objects are owned by their
// backend and, like it, are used from the one thread that owns the backend.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weir/serializer.h"
#include "weir/state_ttl.h"
#include "weir/status.h"

namespace weir {

enum class StateKind : uint8_t {
  kValue = 1,
  kList = 2,
  kMap = 3,
  kReducing = 4,
  kAggregating = 5,
};

const char* StateKindName(StateKind kind);

// What a backend records about each registered state (and checkpoints keep in metadata).
struct StateMetaInfo {
  std::string name;
  StateKind kind = StateKind::kValue;
  std::string value_serializer;     // identity of the value (or accumulator) serializer
  std::string user_key_serializer;  // identity of the map key serializer; empty unless kMap
  // Values carry a last-access timestamp (the state was registered with a TTL, state_ttl.h).
  bool ttl = false;
  bool operator==(const StateMetaInfo&) const = default;
};

// "value state with serializer int64" (and "and key serializer …" for a map state): how errors
// name a state's kind and serializers.
std::string DescribeState(const StateMetaInfo& meta);

// The byte-level view of one registered state that typed states are built on; implemented by
// each backend. Rows belong to (current key, current namespace); a map state has one row per
// user key, the other kinds one row with an empty user key.
class RawKeyedState {
 public:
  virtual ~RawKeyedState() = default;
  virtual const StateMetaInfo& meta() const = 0;
  virtual void SetCurrentNamespace(std::string_view serialized_namespace) = 0;
  virtual Result<std::optional<std::string>> Get(std::string_view user_key) = 0;
  virtual Status Put(std::string_view user_key, std::string_view value) = 0;
  // Appends `operand` to the row's value (list state).
  virtual Status Append(std::string_view operand) = 0;
  virtual Status Delete(std::string_view user_key) = 0;
  // Deletes every row of (current key, current namespace).
  virtual Status Clear() = 0;
  // Visits the rows of (current key, current namespace) in user-key byte order until the visitor
  // returns false.
  virtual Status ForEachRow(
      const std::function<bool(std::string_view user_key, std::string_view value)>& visit) = 0;
};

// Common part of every typed state: its raw rows and its namespace.
class StateBase {
 public:
  explicit StateBase(RawKeyedState* raw) : raw_(raw) {}
  virtual ~StateBase() = default;
  const StateMetaInfo& meta() const { return raw_->meta(); }
  // Subsequent accesses go to this namespace (serialized bytes; empty = void namespace).
  void SetCurrentNamespace(std::string_view serialized_namespace) {
    raw_->SetCurrentNamespace(serialized_namespace);
  }
  Status Clear() { return raw_->Clear(); }

 protected:
  template <typename T>
  static Result<T> Decode(const TypeSerializer<T>& s, std::string_view bytes,
                          const StateMetaInfo& m) {
    T value{};
    if (!s.Deserialize(bytes, &value)) {
      return Status::Corruption("state '" + m.name + "': bytes do not decode with serializer " +
                                s.Identity());
    }
    return value;
  }
  RawKeyedState* raw_;
};

// ---------------------------------------------------------------------------------------------
// Descriptors

// Every descriptor may carry a time-to-live (`ttl`, off by default; Flink's
// StateDescriptor.enableTimeToLive): see state_ttl.h.

template <typename T>
struct ValueStateDescriptor {
  std::string name;
  SerializerPtr<T> serializer = DefaultSerializer<T>();
  StateTtlConfig ttl = {};
};

// With a TTL each element expires on its own (the time it was added).
template <typename T>
struct ListStateDescriptor {
  std::string name;
  SerializerPtr<T> serializer = DefaultSerializer<T>();
  StateTtlConfig ttl = {};
};

// With a TTL each entry expires on its own.
template <typename K, typename V>
struct MapStateDescriptor {
  std::string name;
  SerializerPtr<K> key_serializer = DefaultSerializer<K>();
  SerializerPtr<V> value_serializer = DefaultSerializer<V>();
  StateTtlConfig ttl = {};
};

template <typename T>
struct ReducingStateDescriptor {
  std::string name;
  std::function<T(const T& accumulated, const T& value)> reduce;
  SerializerPtr<T> serializer = DefaultSerializer<T>();
  StateTtlConfig ttl = {};
};

// How an AggregatingState folds inputs IN into an accumulator ACC and reads OUT from it.
template <typename IN, typename ACC, typename OUT>
struct AggregateFunction {
  std::function<ACC()> create_accumulator;
  std::function<ACC(ACC accumulator, const IN& value)> add;
  std::function<OUT(const ACC& accumulator)> get_result;
};

template <typename IN, typename ACC, typename OUT>
struct AggregatingStateDescriptor {
  std::string name;
  AggregateFunction<IN, ACC, OUT> function;
  SerializerPtr<ACC> accumulator_serializer = DefaultSerializer<ACC>();
  StateTtlConfig ttl = {};
};

// ---------------------------------------------------------------------------------------------
// The row of a list state: each element as varint length + bytes, so adding is appending.
namespace list_row {

inline void AppendElement(std::string* out, std::string_view element) {
  uint64_t n = element.size();
  while (n >= 0x80) {
    out->push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out->push_back(static_cast<char>(n));
  out->append(element);
}

// Takes the next element off the front of `in`; false if the framing is malformed.
inline bool ReadElement(std::string_view* in, std::string_view* element) {
  uint64_t n = 0;
  for (int shift = 0;; shift += 7) {
    if (in->empty() || shift > 63) return false;
    const auto byte = static_cast<unsigned char>(in->front());
    in->remove_prefix(1);
    n |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) break;
  }
  if (n > in->size()) return false;
  *element = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

}  // namespace list_row

// ---------------------------------------------------------------------------------------------
// States

template <typename T>
class ValueState final : public StateBase {
 public:
  ValueState(RawKeyedState* raw, SerializerPtr<T> s) : StateBase(raw), s_(std::move(s)) {}

  // The value for the current key and namespace; nullopt if none was set.
  Result<std::optional<T>> Value() {
    WEIR_ASSIGN_OR_RETURN(auto bytes, raw_->Get({}));
    if (!bytes) return std::optional<T>();
    WEIR_ASSIGN_OR_RETURN(T v, Decode(*s_, *bytes, meta()));
    return std::optional<T>(std::move(v));
  }
  Status Update(const T& value) {
    std::string bytes;
    s_->Serialize(value, &bytes);
    return raw_->Put({}, bytes);
  }

 private:
  SerializerPtr<T> s_;
};

// A list is stored as one row (list_row), so Add is an append.
template <typename T>
class ListState final : public StateBase {
 public:
  ListState(RawKeyedState* raw, SerializerPtr<T> s) : StateBase(raw), s_(std::move(s)) {}

  // The elements in insertion order; empty if none.
  Result<std::vector<T>> Get() {
    WEIR_ASSIGN_OR_RETURN(auto bytes, raw_->Get({}));
    std::vector<T> out;
    if (!bytes) return out;
    std::string_view in = *bytes;
    while (!in.empty()) {
      std::string_view element;
      if (!list_row::ReadElement(&in, &element)) {
        return Status::Corruption("state '" + meta().name + "': malformed list element framing");
      }
      WEIR_ASSIGN_OR_RETURN(T v, Decode(*s_, element, meta()));
      out.push_back(std::move(v));
    }
    return out;
  }
  Status Add(const T& value) { return raw_->Append(Frame(std::span<const T>(&value, 1))); }
  Status AddAll(const std::vector<T>& values) {
    if (values.empty()) return Status::OK();
    return raw_->Append(Frame(values));
  }
  // Replaces the list (an empty vector clears it).
  Status Update(const std::vector<T>& values) {
    if (values.empty()) return raw_->Clear();
    return raw_->Put({}, Frame(values));
  }

 private:
  template <typename Range>
  std::string Frame(const Range& values) const {
    std::string out, element;
    for (const T& v : values) {
      element.clear();
      s_->Serialize(v, &element);
      list_row::AppendElement(&out, element);
    }
    return out;
  }
  SerializerPtr<T> s_;
};

template <typename K, typename V>
class MapState final : public StateBase {
 public:
  MapState(RawKeyedState* raw, SerializerPtr<K> ks, SerializerPtr<V> vs)
      : StateBase(raw), ks_(std::move(ks)), vs_(std::move(vs)) {}

  Result<std::optional<V>> Get(const K& key) {
    WEIR_ASSIGN_OR_RETURN(auto bytes, raw_->Get(KeyBytes(key)));
    if (!bytes) return std::optional<V>();
    WEIR_ASSIGN_OR_RETURN(V v, Decode(*vs_, *bytes, meta()));
    return std::optional<V>(std::move(v));
  }
  Status Put(const K& key, const V& value) {
    std::string v;
    vs_->Serialize(value, &v);
    return raw_->Put(KeyBytes(key), v);
  }
  Status PutAll(const std::vector<std::pair<K, V>>& entries) {
    for (const auto& [k, v] : entries) WEIR_RETURN_IF_ERROR(Put(k, v));
    return Status::OK();
  }
  Status Remove(const K& key) { return raw_->Delete(KeyBytes(key)); }
  Result<bool> Contains(const K& key) {
    WEIR_ASSIGN_OR_RETURN(auto bytes, raw_->Get(KeyBytes(key)));
    return bytes.has_value();
  }
  Result<bool> IsEmpty() {
    bool empty = true;
    WEIR_RETURN_IF_ERROR(raw_->ForEachRow([&](std::string_view, std::string_view) {
      empty = false;
      return false;
    }));
    return empty;
  }
  // Visits entries in the byte order of the serialized keys (numeric order for integer keys)
  // until `visit` returns false.
  Status ForEach(const std::function<bool(const K&, const V&)>& visit) {
    Status decode_error;
    WEIR_RETURN_IF_ERROR(raw_->ForEachRow([&](std::string_view kb, std::string_view vb) {
      auto k = Decode(*ks_, kb, meta());
      auto v = Decode(*vs_, vb, meta());
      if (!k.ok() || !v.ok()) {
        decode_error = k.ok() ? v.status() : k.status();
        return false;
      }
      return visit(*k, *v);
    }));
    return decode_error;
  }
  Result<std::vector<std::pair<K, V>>> Entries() {
    std::vector<std::pair<K, V>> out;
    WEIR_RETURN_IF_ERROR(ForEach([&](const K& k, const V& v) {
      out.emplace_back(k, v);
      return true;
    }));
    return out;
  }
  Result<std::vector<K>> Keys() {
    std::vector<K> out;
    WEIR_RETURN_IF_ERROR(ForEach([&](const K& k, const V&) {
      out.push_back(k);
      return true;
    }));
    return out;
  }

 private:
  std::string KeyBytes(const K& key) const {
    std::string out;
    ks_->Serialize(key, &out);
    return out;
  }
  SerializerPtr<K> ks_;
  SerializerPtr<V> vs_;
};

template <typename T>
class ReducingState final : public StateBase {
 public:
  ReducingState(RawKeyedState* raw, std::function<T(const T&, const T&)> reduce, SerializerPtr<T> s)
      : StateBase(raw), reduce_(std::move(reduce)), s_(std::move(s)) {}

  Result<std::optional<T>> Get() {
    WEIR_ASSIGN_OR_RETURN(auto bytes, raw_->Get({}));
    if (!bytes) return std::optional<T>();
    WEIR_ASSIGN_OR_RETURN(T v, Decode(*s_, *bytes, meta()));
    return std::optional<T>(std::move(v));
  }
  // Folds `value` into the current value with the reduce function.
  Status Add(const T& value) {
    WEIR_ASSIGN_OR_RETURN(auto current, Get());
    std::string bytes;
    s_->Serialize(current ? reduce_(*current, value) : value, &bytes);
    return raw_->Put({}, bytes);
  }

 private:
  std::function<T(const T&, const T&)> reduce_;
  SerializerPtr<T> s_;
};

template <typename IN, typename OUT>
class AggregatingState : public StateBase {
 public:
  using StateBase::StateBase;
  // The aggregate of everything added; nullopt if nothing was.
  virtual Result<std::optional<OUT>> Get() = 0;
  virtual Status Add(const IN& value) = 0;
};

template <typename IN, typename ACC, typename OUT>
class AggregatingStateImpl final : public AggregatingState<IN, OUT> {
 public:
  AggregatingStateImpl(RawKeyedState* raw, AggregateFunction<IN, ACC, OUT> f, SerializerPtr<ACC> s)
      : AggregatingState<IN, OUT>(raw), f_(std::move(f)), s_(std::move(s)) {}

  Result<std::optional<OUT>> Get() override {
    WEIR_ASSIGN_OR_RETURN(auto acc, Accumulator());
    if (!acc) return std::optional<OUT>();
    return std::optional<OUT>(f_.get_result(*acc));
  }
  Status Add(const IN& value) override {
    WEIR_ASSIGN_OR_RETURN(auto acc, Accumulator());
    std::string bytes;
    s_->Serialize(f_.add(acc ? std::move(*acc) : f_.create_accumulator(), value), &bytes);
    return this->raw_->Put({}, bytes);
  }

 private:
  Result<std::optional<ACC>> Accumulator() {
    WEIR_ASSIGN_OR_RETURN(auto bytes, this->raw_->Get({}));
    if (!bytes) return std::optional<ACC>();
    WEIR_ASSIGN_OR_RETURN(ACC acc, StateBase::Decode(*s_, *bytes, this->meta()));
    return std::optional<ACC>(std::move(acc));
  }
  AggregateFunction<IN, ACC, OUT> f_;
  SerializerPtr<ACC> s_;
};

}  // namespace weir
