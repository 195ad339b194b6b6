// Watermarks in the REST API, /metrics and the job view: an event-time job's window vertex
// reports its input watermark (the least over its subtasks), its source vertex the watermark it
// emits; Flink's /vertices/:id/watermarks lists each subtask's; they never go back; a vertex
// without any reports none.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "runtime/job_runtime.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"
#include "web/rest_server.h"
#include "weir/connectors.h"
#include "weir/job.h"
#include "weir/window.h"

namespace weir {
namespace {

using json = nlohmann::json;
constexpr int64_t kBase = 1'700'000'000'000;

JobGraph EventTimeJob(const std::string& out) {
  JobBuilder b("event-time");
  AggregateFunction<int64_t, int64_t, int64_t> count{
      [] { return int64_t{0}; }, [](int64_t n, const int64_t&) { return n + 1; },
      [](const int64_t& n) { return n; }};
  b.AddSource(GeneratorSource<int64_t>(
                  200'000, [](uint64_t i) { return static_cast<int64_t>(i); }, 20'000),
              "numbers")
      .Uid("numbers")
      .AssignTimestampsAndWatermarks(
          WatermarkStrategy<int64_t>::ForMonotonousTimestamps().WithTimestampAssigner(
              [](const int64_t& i) { return kBase + i; }))
      .Uid("timestamps")
      .KeyBy([](const int64_t& i) { return i % 10; })
      .Window(WindowAssigner::TumblingEventTime(std::chrono::milliseconds(100)))
      .Aggregate<std::string>(count,
                              [](const int64_t& k, const TimeWindow& w, int64_t n) {
                                return std::to_string(w.start) + "," + std::to_string(k) + "," +
                                       std::to_string(n);
                              })
      .Uid("window")
      .SinkTo(FileSink(out))
      .Uid("sink");
  return b.Build();
}

TEST(RestWatermarkTest, VerticesReportTheirWatermarks) {
  testing::TempDir tmp;
  Configuration c;
  ASSERT_TRUE(c.Set(config::kParallelism, "2").ok());
  ASSERT_TRUE(c.Set(config::kInterval, "100ms").ok());
  ASSERT_TRUE(c.Set(config::kCheckpointsDir, tmp.Sub("checkpoints")).ok());
  ASSERT_TRUE(c.Set(config::kLocalDir, tmp.Sub("local")).ok());
  auto created = JobRuntime::Create(EventTimeJob(tmp.Sub("out")), c);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  std::unique_ptr<JobRuntime> job = std::move(created).value();
  web::RestServer server(*job);
  ASSERT_TRUE(server.Start("127.0.0.1", 0).ok());
  httplib::Client client("127.0.0.1", server.port());
  const auto get = [&](const std::string& path) {
    auto res = client.Get(path);
    return res && res->status == 200 ? json::parse(res->body, nullptr, false) : json();
  };
  JobResult result;
  std::thread runner([&] { result = job->Run(); });

  const std::string id = job->job_id();
  const auto vertex = [&](const json& j, const std::string& uid) {
    for (const auto& v : j["vertices"]) {
      if (v["uid"] == uid) return v;
    }
    return json();
  };
  json window;
  ASSERT_TRUE(testing::WaitFor([&] {
    window = vertex(get("/jobs/" + id), "window");
    return window.is_object() && window["input-watermark"].is_number();
  })) << window.dump();
  const int64_t first = window["input-watermark"].get<int64_t>();
  EXPECT_GE(first, kBase - 1);
  EXPECT_TRUE(window["output-watermark"].is_null());  // the sink is chained: nothing downstream
  const json source = vertex(get("/jobs/" + id), "numbers");
  EXPECT_TRUE(source["input-watermark"].is_null());  // a source reads no channel
  ASSERT_TRUE(source["output-watermark"].is_number()) << source.dump();
  EXPECT_GE(source["output-watermark"].get<int64_t>(), first);

  // Flink's per-subtask list: both subtasks' input watermarks, at or past the vertex's low one.
  const json marks =
      get("/jobs/" + id + "/vertices/" + window["id"].get<std::string>() + "/watermarks");
  ASSERT_TRUE(marks.is_array()) << marks.dump();
  int inputs = 0;
  for (const auto& m : marks) {
    if (m["id"].get<std::string>().ends_with(".currentInputWatermark")) {
      ++inputs;
      EXPECT_GE(std::stoll(m["value"].get<std::string>()), first) << marks.dump();
    }
  }
  EXPECT_EQ(inputs, 2);
  auto missing = client.Get("/jobs/" + id + "/vertices/nope/watermarks");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);

  // /metrics: the window operator's input watermark in seconds; never behind the first reading.
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  const std::string prefix = "weir_operator_input_watermark_seconds{";
  const size_t at = metrics->body.find(prefix);
  ASSERT_NE(at, std::string::npos) << metrics->body;
  const size_t line_end = metrics->body.find('\n', at);
  const std::string line = metrics->body.substr(at, line_end - at);
  EXPECT_NE(line.find("operator=\"window\""), std::string::npos) << line;
  EXPECT_GE(std::stod(line.substr(line.rfind(' ') + 1)) * 1000, static_cast<double>(first) - 1);
  // The source has no input watermark: no sample for it.
  std::istringstream lines(metrics->body);
  for (std::string l; std::getline(lines, l);) {
    if (l.starts_with(prefix)) {
      EXPECT_EQ(l.find("operator=\"numbers\""), std::string::npos) << l;
    }
  }

  // The watermark only moves forward.
  ASSERT_TRUE(testing::WaitFor([&] {
    const json later = vertex(get("/jobs/" + id), "window");
    return later["input-watermark"].is_number() && later["input-watermark"].get<int64_t>() > first;
  }));
  job->Cancel();
  runner.join();
  server.Stop();
}

}  // namespace
}  // namespace weir
