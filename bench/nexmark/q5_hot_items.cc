#include "q5_hot_items.h"

#include <unordered_map>

#include "weir/connectors.h"
#include "weir/job.h"
#include "weir/window.h"

namespace weir::nexmark {
namespace {

// One window's bid count of one auction (the window operator's output).
struct AuctionBids {
  int64_t window_start = 0;
  int64_t window_end = 0;
  int64_t auction = 0;
  int64_t bids = 0;
};

std::string Line(int64_t start, int64_t end, int64_t auction, int64_t bids) {
  return std::to_string(start) + "," + std::to_string(end) + "," + std::to_string(auction) + "," +
         std::to_string(bids);
}

// Per window (the key: its end), the highest count and the auctions that have it, emitted when
// the watermark passes the window: by then every window subtask fired it (each forwards the
// watermark only after firing the windows it passes).
class HotItems final : public KeyedProcessFunction<int64_t, AuctionBids, std::string> {
 public:
  explicit HotItems(int64_t window_ms) : window_ms_(window_ms) {}
  Status Open(KeyedStateBackend& state, const RuntimeInfo&) override {
    WEIR_ASSIGN_OR_RETURN(max_bids_,
                          state.GetValueState(ValueStateDescriptor<int64_t>{"max-bids"}));
    WEIR_ASSIGN_OR_RETURN(auctions_, state.GetListState(ListStateDescriptor<int64_t>{"auctions"}));
    return Status::OK();
  }
  Status ProcessElement(const AuctionBids& in, Context& ctx, Collector<std::string>&) override {
    WEIR_ASSIGN_OR_RETURN(std::optional<int64_t> max, max_bids_->Value());
    if (!max.has_value() || in.bids > *max) {
      if (!max.has_value()) {
        WEIR_RETURN_IF_ERROR(ctx.timers().RegisterEventTimeTimer(in.window_end - 1));
      }
      WEIR_RETURN_IF_ERROR(max_bids_->Update(in.bids));
      WEIR_RETURN_IF_ERROR(auctions_->Clear());
      return auctions_->Add(in.auction);
    }
    if (in.bids == *max) return auctions_->Add(in.auction);
    return Status::OK();
  }
  Status OnTimer(int64_t, Context& ctx, Collector<std::string>& out) override {
    WEIR_ASSIGN_OR_RETURN(std::optional<int64_t> max, max_bids_->Value());
    WEIR_ASSIGN_OR_RETURN(std::vector<int64_t> auctions, auctions_->Get());
    const int64_t end = ctx.CurrentKey();
    for (int64_t auction : auctions) {
      out.Collect(Line(end - window_ms_, end, auction, max.value_or(0)));
    }
    WEIR_RETURN_IF_ERROR(max_bids_->Clear());
    return auctions_->Clear();
  }

 private:
  int64_t window_ms_;
  ValueState<int64_t>* max_bids_ = nullptr;
  ListState<int64_t>* auctions_ = nullptr;
};

}  // namespace

Result<JobGraph> BuildQ5(const Q5Options& o) {
  const WindowAssigner assigner = WindowAssigner::SlidingEventTime(o.window, o.slide);
  WEIR_RETURN_IF_ERROR(assigner.Validate());
  if (o.generator.tps <= 0) return Status::InvalidArgument("nexmark q5: tps must be positive");
  const GeneratorConfig generator = o.generator;
  const int64_t window_ms = o.window.count();
  AggregateFunction<Event, int64_t, int64_t> count{[] { return int64_t{0}; },
                                                   [](int64_t n, const Event&) { return n + 1; },
                                                   [](const int64_t& n) { return n; }};
  JobBuilder job("nexmark-q5");
  job.AddSource(
         GeneratorSource<Event>(
             o.events, [generator](uint64_t n) { return GenerateEvent(n, generator); }, o.rate),
         "nexmark")
      .Uid("nexmark")
      .AssignTimestampsAndWatermarks(
          WatermarkStrategy<Event>::ForBoundedOutOfOrderness(o.watermark_delay)
              .WithTimestampAssigner([](const Event& e) { return e.date_time_ms; }))
      .Uid("timestamps")
      .Filter([](const Event& e) { return e.kind == Event::Kind::kBid; }, "bids")
      .KeyBy([](const Event& e) { return e.auction; })
      .Window(assigner)
      .Aggregate<AuctionBids>(
          count,
          [](const int64_t& auction, const TimeWindow& w, int64_t n) {
            return AuctionBids{w.start, w.end, auction, n};
          },
          nullptr, "auction-bids")
      .Uid("auction-bids")
      .KeyBy([](const AuctionBids& a) { return a.window_end; })
      .Process<std::string>([window_ms] { return std::make_unique<HotItems>(window_ms); },
                            "hot-items")
      .Uid("hot-items")
      .SinkTo(FileSink(o.output), "sink")
      .Uid("sink");
  return job.Build();
}

std::map<std::string, int> Q5ReferenceAnswer(const Q5Options& o) {
  const int64_t size = o.window.count(), slide = o.slide.count();
  // (window start, auction) -> bids
  std::map<int64_t, std::unordered_map<int64_t, int64_t>> counts;
  for (uint64_t n = 0; n < o.events; ++n) {
    const Event e = GenerateEvent(n, o.generator);
    if (e.kind != Event::Kind::kBid) continue;
    // Every window [start, start + size) with start a multiple of the slide that holds the bid.
    const int64_t last_start = e.date_time_ms - ((e.date_time_ms % slide) + slide) % slide;
    for (int64_t start = last_start; start > e.date_time_ms - size; start -= slide) {
      ++counts[start][e.auction];
    }
  }
  std::map<std::string, int> lines;
  for (const auto& [start, by_auction] : counts) {
    int64_t max = 0;
    for (const auto& [auction, bids] : by_auction) max = std::max(max, bids);
    for (const auto& [auction, bids] : by_auction) {
      if (bids == max) lines[Line(start, start + size, auction, bids)] = 1;
    }
  }
  return lines;
}

}  // namespace weir::nexmark
