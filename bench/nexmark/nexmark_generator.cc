#include "nexmark_generator.h"

#include <algorithm>
#include <cmath>

namespace weir::nexmark {
namespace {

constexpr uint64_t kProportionDenominator = 50;  // person 1, auction 3, bid 46 of every 50
constexpr uint64_t kPersonProportion = 1;
constexpr uint64_t kAuctionProportion = 3;
constexpr int64_t kFirstPersonId = 1000;
constexpr int64_t kFirstAuctionId = 1000;
constexpr int64_t kHotRatio = 100;  // hot ids are multiples of 100
constexpr int64_t kAuctionsInFlight = 100;
constexpr int64_t kPersonsActive = 1000;

// A stream of random numbers drawn from one event's number (splitmix64).
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed * 0x2545F4914F6CDD1DULL) {}
  uint64_t Next() {
    uint64_t x = (state_ += 0x9e3779b97f4a7c15ULL);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  }
  int64_t Below(int64_t n) { return static_cast<int64_t>(Next() % static_cast<uint64_t>(n)); }
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

// The newest person and auction ids once event n is generated.
int64_t LastPersonId(uint64_t n) {
  const uint64_t epoch = n / kProportionDenominator;
  const uint64_t offset = std::min(n % kProportionDenominator, kPersonProportion - 1);
  return kFirstPersonId + static_cast<int64_t>(epoch * kPersonProportion + offset);
}
int64_t LastAuctionId(uint64_t n) {
  const uint64_t epoch = n / kProportionDenominator;
  uint64_t offset = n % kProportionDenominator;
  if (offset < kPersonProportion) {  // none of this epoch yet: the previous epoch's last
    if (epoch == 0) return kFirstAuctionId;
    return kFirstAuctionId + static_cast<int64_t>(epoch * kAuctionProportion) - 1;
  }
  offset = std::min(offset - kPersonProportion, kAuctionProportion - 1);
  return kFirstAuctionId + static_cast<int64_t>(epoch * kAuctionProportion + offset);
}

// One of the recent persons or auctions: the hot one (the newest multiple of 100) with
// probability `hot_share`, otherwise one of the `window` newest.
int64_t Pick(Random& r, int64_t last, int64_t first, int64_t window, double hot_share) {
  if (r.Unit() < hot_share) return std::max(first, last / kHotRatio * kHotRatio);
  const int64_t lowest = std::max(first, last - window + 1);
  return lowest + r.Below(last - lowest + 1);
}

void Pad(Random& r, size_t size, std::string* extra) {
  extra->resize(size);
  uint64_t bits = 0;
  for (size_t i = 0; i < size; ++i, bits >>= 8) {
    if (i % 8 == 0) bits = r.Next();  // eight letters from one draw
    (*extra)[i] = static_cast<char>('a' + (bits & 0xff) % 26);
  }
}

}  // namespace

Event GenerateEvent(uint64_t n, const GeneratorConfig& config) {
  Random r(n + 1);
  Event e;
  e.date_time_ms =
      config.base_time_ms + static_cast<int64_t>(n * 1000 / static_cast<uint64_t>(config.tps));
  const uint64_t offset = n % kProportionDenominator;
  if (offset < kPersonProportion) {
    e.kind = Event::Kind::kPerson;
    e.id = LastPersonId(n);
    Pad(r, 200 - 16, &e.extra);
  } else if (offset < kPersonProportion + kAuctionProportion) {
    e.kind = Event::Kind::kAuction;
    e.id = LastAuctionId(n);
    e.bidder = Pick(r, LastPersonId(n), kFirstPersonId, kPersonsActive, 0.5);
    e.price = static_cast<int64_t>(std::llround(std::pow(10.0, r.Unit() * 6.0) * 100.0));
    Pad(r, 500 - 40, &e.extra);
  } else {
    e.kind = Event::Kind::kBid;
    e.auction = Pick(r, LastAuctionId(n), kFirstAuctionId, kAuctionsInFlight, 0.5);
    e.bidder = Pick(r, LastPersonId(n), kFirstPersonId, kPersonsActive, 0.75);
    e.price = static_cast<int64_t>(std::llround(std::pow(10.0, r.Unit() * 6.0) * 100.0));
    Pad(r, 100 - 32, &e.extra);
  }
  return e;
}

}  // namespace weir::nexmark
