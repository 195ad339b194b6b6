// TypeSerializer<T>: turns values of T into bytes and back. Every piece of state names the
// serializers it uses by their Identity(), recorded in checkpoint metadata, so that a restored
// state is only read with the serializer that wrote it.
//
// Built-in serializers (DefaultSerializer<T>()):
//   integers (int8..int64, uint8..uint64): big-endian, sign bit flipped, so byte order equals
//     numeric order (MapState iterates integer keys in numeric order);
//   float, double: IEEE-754 bits, transformed the same way so that byte order is numeric order;
//   bool; std::string ("string"); weir::Bytes, a byte string ("bytes").
// User types: MakeSerializer<T>(identity, serialize, deserialize) with a pair of functions.
// Serializers are immutable and safe to share between threads.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace weir {

using Bytes = std::vector<uint8_t>;

template <typename T>
class TypeSerializer {
 public:
  virtual ~TypeSerializer() = default;
  // Appends the bytes of `value` to `out`.
  virtual void Serialize(const T& value, std::string* out) const = 0;
  // Reads a value from exactly `in`; false when `in` is not a valid encoding.
  virtual bool Deserialize(std::string_view in, T* value) const = 0;
  // Stable name of the encoding, e.g. "i64", "string", "user:Point/v1".
  virtual std::string Identity() const = 0;
};

template <typename T>
using SerializerPtr = std::shared_ptr<const TypeSerializer<T>>;

namespace serializer_internal {

template <typename T>
constexpr const char* IntegerIdentity() {
  constexpr bool s = std::is_signed_v<T>;
  switch (sizeof(T)) {
    case 1:
      return s ? "i8" : "u8";
    case 2:
      return s ? "i16" : "u16";
    case 4:
      return s ? "i32" : "u32";
    default:
      return s ? "i64" : "u64";
  }
}

template <typename U>
void PutOrderedBits(U bits, std::string* out) {
  for (int i = sizeof(U) - 1; i >= 0; --i)
    out->push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
}

template <typename U>
bool GetOrderedBits(std::string_view in, U* bits) {
  if (in.size() != sizeof(U)) return false;
  U v = 0;
  for (size_t i = 0; i < sizeof(U); ++i)
    v = static_cast<U>((v << 8) | static_cast<unsigned char>(in[i]));
  *bits = v;
  return true;
}

}  // namespace serializer_internal

template <typename T>
class IntegerSerializer final : public TypeSerializer<T> {
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
  using U = std::make_unsigned_t<T>;
  static constexpr U kFlip = std::is_signed_v<T> ? static_cast<U>(U{1} << (sizeof(U) * 8 - 1)) : 0;

 public:
  void Serialize(const T& value, std::string* out) const override {
    serializer_internal::PutOrderedBits<U>(static_cast<U>(static_cast<U>(value) ^ kFlip), out);
  }
  bool Deserialize(std::string_view in, T* value) const override {
    U bits;
    if (!serializer_internal::GetOrderedBits<U>(in, &bits)) return false;
    *value = static_cast<T>(static_cast<U>(bits ^ kFlip));
    return true;
  }
  std::string Identity() const override { return serializer_internal::IntegerIdentity<T>(); }
};

template <typename T>
class FloatingPointSerializer final : public TypeSerializer<T> {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
  using U = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  static constexpr U kSign = static_cast<U>(U{1} << (sizeof(U) * 8 - 1));

 public:
  void Serialize(const T& value, std::string* out) const override {
    U bits;
    std::memcpy(&bits, &value, sizeof(bits));
    bits = (bits & kSign) ? static_cast<U>(~bits) : static_cast<U>(bits | kSign);
    serializer_internal::PutOrderedBits<U>(bits, out);
  }
  bool Deserialize(std::string_view in, T* value) const override {
    U bits;
    if (!serializer_internal::GetOrderedBits<U>(in, &bits)) return false;
    bits = (bits & kSign) ? static_cast<U>(bits & ~kSign) : static_cast<U>(~bits);
    std::memcpy(value, &bits, sizeof(bits));
    return true;
  }
  std::string Identity() const override { return sizeof(T) == 4 ? "f32" : "f64"; }
};

class BoolSerializer final : public TypeSerializer<bool> {
 public:
  void Serialize(const bool& value, std::string* out) const override {
    out->push_back(value ? 1 : 0);
  }
  bool Deserialize(std::string_view in, bool* value) const override {
    if (in.size() != 1 || static_cast<unsigned char>(in[0]) > 1) return false;
    *value = in[0] == 1;
    return true;
  }
  std::string Identity() const override { return "bool"; }
};

class StringSerializer final : public TypeSerializer<std::string> {
 public:
  void Serialize(const std::string& value, std::string* out) const override { out->append(value); }
  bool Deserialize(std::string_view in, std::string* value) const override {
    value->assign(in);
    return true;
  }
  std::string Identity() const override { return "string"; }
};

class BytesSerializer final : public TypeSerializer<Bytes> {
 public:
  void Serialize(const Bytes& value, std::string* out) const override {
    out->append(reinterpret_cast<const char*>(value.data()), value.size());
  }
  bool Deserialize(std::string_view in, Bytes* value) const override {
    value->assign(in.begin(), in.end());
    return true;
  }
  std::string Identity() const override { return "bytes"; }
};

// A serializer for a user type from a pair of functions. `identity` names the encoding and
// must change whenever the encoding does (e.g. "Point/v2"); it is recorded as "user:<identity>".
template <typename T>
class FunctionSerializer final : public TypeSerializer<T> {
 public:
  using SerializeFn = std::function<void(const T&, std::string*)>;
  using DeserializeFn = std::function<bool(std::string_view, T*)>;
  FunctionSerializer(std::string identity, SerializeFn serialize, DeserializeFn deserialize)
      : identity_("user:" + std::move(identity)),
        serialize_(std::move(serialize)),
        deserialize_(std::move(deserialize)) {}
  void Serialize(const T& value, std::string* out) const override { serialize_(value, out); }
  bool Deserialize(std::string_view in, T* value) const override { return deserialize_(in, value); }
  std::string Identity() const override { return identity_; }

 private:
  std::string identity_;
  SerializeFn serialize_;
  DeserializeFn deserialize_;
};

template <typename T>
SerializerPtr<T> MakeSerializer(std::string identity,
                                typename FunctionSerializer<T>::SerializeFn serialize,
                                typename FunctionSerializer<T>::DeserializeFn deserialize) {
  return std::make_shared<FunctionSerializer<T>>(std::move(identity), std::move(serialize),
                                                 std::move(deserialize));
}

// The built-in serializer for T; a compile error for types without one (use MakeSerializer).
template <typename T>
SerializerPtr<T> DefaultSerializer() {
  if constexpr (std::is_same_v<T, bool>) {
    return std::make_shared<BoolSerializer>();
  } else if constexpr (std::is_integral_v<T>) {
    return std::make_shared<IntegerSerializer<T>>();
  } else if constexpr (std::is_floating_point_v<T>) {
    return std::make_shared<FloatingPointSerializer<T>>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    return std::make_shared<StringSerializer>();
  } else if constexpr (std::is_same_v<T, Bytes>) {
    return std::make_shared<BytesSerializer>();
  } else {
    static_assert(sizeof(T) == 0, "no built-in serializer for this type: use MakeSerializer<T>");
  }
}

}  // namespace weir
