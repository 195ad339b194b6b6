// Byte encodings shared by every on-disk format of weir: little-endian fixed-width integers,
// LEB128 varints, length-prefixed strings, and order-preserving big-endian integers (used where
// byte order must equal numeric order, e.g. key-group prefixes and serialized integer keys).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace weir {

void PutFixed32(std::string* dst, uint32_t v);
void PutFixed64(std::string* dst, uint64_t v);
void PutVarint32(std::string* dst, uint32_t v);
void PutVarint64(std::string* dst, uint64_t v);
void PutLengthPrefixed(std::string* dst, std::string_view s);
void PutBigEndian16(std::string* dst, uint16_t v);
void PutBigEndian64(std::string* dst, uint64_t v);

// The varint of `v` at `dst`, which has room for kMaxVarint64Bytes; returns the byte after it.
// Inline: the state-change log encodes several per change on the task's thread.
inline constexpr size_t kMaxVarint64Bytes = 10;
inline char* EncodeVarint64(char* dst, uint64_t v) {
  while (v >= 0x80) {
    *dst++ = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *dst++ = static_cast<char>(v);
  return dst;
}

uint32_t DecodeFixed32(const char* p);
uint64_t DecodeFixed64(const char* p);
uint64_t DecodeBigEndian64(const char* p);

// Each Get* consumes from the front of `in` and returns false (leaving `in` unspecified) when the
// input is too short or malformed.
bool GetFixed32(std::string_view* in, uint32_t* v);
bool GetFixed64(std::string_view* in, uint64_t* v);
bool GetVarint32(std::string_view* in, uint32_t* v);
bool GetVarint64(std::string_view* in, uint64_t* v);
bool GetLengthPrefixed(std::string_view* in, std::string_view* s);

}  // namespace weir
