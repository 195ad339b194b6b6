// windowed-count: event-time windows. Lines "event_time_ms,key" of a file (or directory) ->
// timestamps and watermarks with a bounded out-of-orderness -> per key, tumbling (or sliding)
// event-time windows counting their records -> an exactly-once file sink of
// "window_start_ms,window_end_ms,key,count", one line per window and key (more with an allowed
// lateness: a late record within it updates its window's line, Flink's late firing). Records later
// than the lateness are dropped. At the end of the input every window fires.
#include <charconv>

#include "bundled_jobs.h"
#include "job_args.h"
#include "weir/config_option.h"
#include "weir/connectors.h"
#include "weir/job.h"
#include "weir/window.h"

namespace weir::examples {
namespace {

struct Event {
  int64_t time_ms = 0;
  std::string key;
};

// "event_time_ms,key" -> Event; a malformed line fails the job, naming it. Blank lines are
// skipped.
class ParseEvents final : public StreamOperator {
 public:
  Status Open(OperatorContext&, const std::optional<std::string>&, Output& out) override {
    out_ = &out;
    return Status::OK();
  }
  Status ProcessRecord(Record record) override {
    std::string line = std::any_cast<std::string>(std::move(record));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) return Status::OK();
    const size_t comma = line.find(',');
    Event e;
    bool ok = comma != std::string::npos && comma > 0 && comma + 1 < line.size();
    if (ok) {
      const auto [end, error] = std::from_chars(line.data(), line.data() + comma, e.time_ms);
      ok = error == std::errc() && end == line.data() + comma;
    }
    if (!ok) {
      return Status::InvalidArgument("windowed-count: input line '" + line.substr(0, 200) +
                                     "' is not event_time_ms,key");
    }
    e.key = line.substr(comma + 1);
    out_->Emit(Record(std::move(e)));
    return Status::OK();
  }

 private:
  Output* out_ = nullptr;
};

Status ParseDurationArg(const std::string& flag, const std::string& text,
                        std::chrono::milliseconds* out) {
  auto d = ParseDuration(text);
  if (!d.ok())
    return Status::InvalidArgument("windowed-count: " + flag + ": " + d.status().message());
  *out = *d;
  return Status::OK();
}

}  // namespace

Result<JobGraph> BuildWindowedCount(const std::vector<std::string>& args) {
  CLI::App app{"count records per key and event-time window", "windowed-count"};
  std::string input, output, window_text, slide_text, ooo_text = "0 ms", lateness_text = "0 ms";
  int64_t rate = 0;
  app.add_option("--input", input, "a file (or directory) of event_time_ms,key lines")->required();
  app.add_option("--output", output, "directory of the committed output")->required();
  app.add_option("--window", window_text, "window size, e.g. 10s")->required();
  app.add_option("--slide", slide_text, "slide of sliding windows (default: tumbling windows)");
  app.add_option("--out-of-orderness", ooo_text, "how far records may come out of order");
  app.add_option("--lateness", lateness_text, "allowed lateness of a window after it fired");
  app.add_option("--rate", rate, "lines per second over all source subtasks; 0: unbounded")
      ->check(CLI::NonNegativeNumber);
  WEIR_RETURN_IF_ERROR(ParseJobArgs(app, args));
  std::chrono::milliseconds window{}, slide{}, out_of_orderness{}, lateness{};
  WEIR_RETURN_IF_ERROR(ParseDurationArg("--window", window_text, &window));
  if (!slide_text.empty()) WEIR_RETURN_IF_ERROR(ParseDurationArg("--slide", slide_text, &slide));
  WEIR_RETURN_IF_ERROR(ParseDurationArg("--out-of-orderness", ooo_text, &out_of_orderness));
  WEIR_RETURN_IF_ERROR(ParseDurationArg("--lateness", lateness_text, &lateness));
  const WindowAssigner assigner = slide_text.empty()
                                      ? WindowAssigner::TumblingEventTime(window)
                                      : WindowAssigner::SlidingEventTime(window, slide);
  if (Status s = assigner.Validate(); !s.ok()) {
    return Status::InvalidArgument("windowed-count: " + s.message());
  }

  JobBuilder job("windowed-count");
  AggregateFunction<Event, int64_t, int64_t> count{[] { return int64_t{0}; },
                                                   [](int64_t n, const Event&) { return n + 1; },
                                                   [](const int64_t& n) { return n; }};
  job.AddSource(FileSource(input, rate), "lines")
      .Uid("lines")
      .Transform<Event>([] { return std::make_unique<ParseEvents>(); }, "parse")
      .Uid("parse")
      .AssignTimestampsAndWatermarks(
          WatermarkStrategy<Event>::ForBoundedOutOfOrderness(out_of_orderness)
              .WithTimestampAssigner([](const Event& e) { return e.time_ms; }))
      .Uid("timestamps")
      .KeyBy([](const Event& e) { return e.key; })
      .Window(assigner)
      .AllowedLateness(lateness)
      .Aggregate<std::string>(
          count,
          [](const std::string& key, const TimeWindow& w, int64_t n) {
            return std::to_string(w.start) + "," + std::to_string(w.end) + "," + key + "," +
                   std::to_string(n);
          },
          [](int64_t a, const int64_t& b) { return a + b; }, "count")
      .Uid("count")
      .SinkTo(FileSink(output), "sink")
      .Uid("sink");
  return job.Build();
}

}  // namespace weir::examples
