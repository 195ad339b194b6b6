#include "weir/serializer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace weir {
namespace {

template <typename T>
T RoundTrip(const T& v) {
  auto s = DefaultSerializer<T>();
  std::string bytes;
  s->Serialize(v, &bytes);
  T out{};
  EXPECT_TRUE(s->Deserialize(bytes, &out));
  return out;
}

template <typename T>
std::string Bytes(const T& v) {
  std::string bytes;
  DefaultSerializer<T>()->Serialize(v, &bytes);
  return bytes;
}

TEST(SerializerTest, BuiltInsRoundTrip) {
  EXPECT_EQ(RoundTrip<int64_t>(std::numeric_limits<int64_t>::min()),
            std::numeric_limits<int64_t>::min());
  EXPECT_EQ(RoundTrip<int32_t>(-5), -5);
  EXPECT_EQ(RoundTrip<uint64_t>(~0ULL), ~0ULL);
  EXPECT_EQ(RoundTrip<int8_t>(-128), -128);
  EXPECT_EQ(RoundTrip<uint16_t>(65535), 65535);
  EXPECT_EQ(RoundTrip<double>(-0.125), -0.125);
  EXPECT_EQ(RoundTrip<float>(3.5f), 3.5f);
  EXPECT_TRUE(std::isinf(RoundTrip<double>(-INFINITY)));
  EXPECT_EQ(RoundTrip<bool>(true), true);
  EXPECT_EQ(RoundTrip<std::string>(std::string("a\0b", 3)), std::string("a\0b", 3));
  EXPECT_EQ(RoundTrip<weir::Bytes>({0, 255, 7}), (weir::Bytes{0, 255, 7}));
}

TEST(SerializerTest, IntegerAndFloatBytesSortNumerically) {
  const int64_t ints[] = {std::numeric_limits<int64_t>::min(), -1000, -1, 0, 1, 255, 256,
                          std::numeric_limits<int64_t>::max()};
  for (size_t i = 1; i < std::size(ints); ++i) EXPECT_LT(Bytes(ints[i - 1]), Bytes(ints[i]));
  const double doubles[] = {-INFINITY, -1e300, -2.5, -0.0, 0.0, 1e-300, 2.5, INFINITY};
  for (size_t i = 1; i < std::size(doubles); ++i) {
    EXPECT_LE(Bytes(doubles[i - 1]), Bytes(doubles[i])) << doubles[i];
  }
}

TEST(SerializerTest, RejectsMalformedBytes) {
  int64_t v;
  EXPECT_FALSE(DefaultSerializer<int64_t>()->Deserialize("abc", &v));
  bool b;
  EXPECT_FALSE(DefaultSerializer<bool>()->Deserialize("\x02", &b));
}

TEST(SerializerTest, IdentitiesAreStable) {
  EXPECT_EQ(DefaultSerializer<int64_t>()->Identity(), "i64");
  EXPECT_EQ(DefaultSerializer<uint32_t>()->Identity(), "u32");
  EXPECT_EQ(DefaultSerializer<double>()->Identity(), "f64");
  EXPECT_EQ(DefaultSerializer<std::string>()->Identity(), "string");
  EXPECT_EQ(DefaultSerializer<weir::Bytes>()->Identity(), "bytes");
}

struct Point {
  int x, y;
};

TEST(SerializerTest, UserTypesThroughAPairOfFunctions) {
  auto s = MakeSerializer<Point>(
      "Point/v1",
      [](const Point& p, std::string* out) {
        out->append(std::to_string(p.x) + "," + std::to_string(p.y));
      },
      [](std::string_view in, Point* p) {
        const auto comma = in.find(',');
        if (comma == std::string_view::npos) return false;
        p->x = std::stoi(std::string(in.substr(0, comma)));
        p->y = std::stoi(std::string(in.substr(comma + 1)));
        return true;
      });
  EXPECT_EQ(s->Identity(), "user:Point/v1");
  std::string bytes;
  s->Serialize({3, -4}, &bytes);
  Point p{};
  ASSERT_TRUE(s->Deserialize(bytes, &p));
  EXPECT_EQ(p.x, 3);
  EXPECT_EQ(p.y, -4);
  EXPECT_FALSE(s->Deserialize("nocomma", &p));
}

}  // namespace
}  // namespace weir
