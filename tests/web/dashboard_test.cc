// The dashboard in a real browser: headless Chromium (Debian's `chromium`) opens the page of a
// running in-process job, its script reads the REST API, and the DOM it leaves must hold the
// job's operators, the checkpoint table, the charts and a checkpoint's subtasks, all drawn from
// the live data. A screenshot is saved to <build>/dashboard.png.
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "aggregate_job.h"
#include "runtime/job_runtime.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"
#include "web/rest_server.h"

namespace weir {
namespace {

std::string Chromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
    if (std::filesystem::exists(p)) return p;
  }
  return "chromium";
}

// Runs headless Chromium on `url` with `action` (--dump-dom, --screenshot=…); its stdout.
// Chromium can hang on a loaded machine (it once blocked a whole CI run), so each attempt is
// bounded by coreutils' timeout and a failed or empty attempt is retried with a fresh profile.
std::string Browse(const std::string& url, const std::string& action, const std::string& profile,
                   const std::function<bool(const std::string&)>& done) {
  std::string out;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const std::string cmd = "timeout -k 5 90 " + Chromium() +
                            " --headless=new --no-sandbox --disable-gpu --no-first-run "
                            "--disable-dev-shm-usage --user-data-dir=" +
                            profile + "-" + std::to_string(attempt) +
                            " --window-size=1400,1100 --virtual-time-budget=4000 " + action + " '" +
                            url + "' 2>/dev/null";
    out.clear();
    if (FILE* p = popen(cmd.c_str(), "r")) {
      char buf[4096];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
      pclose(p);
    }
    if (done(out)) break;
  }
  return out;
}

size_t Count(const std::string& text, const std::regex& re) {
  return static_cast<size_t>(
      std::distance(std::sregex_iterator(text.begin(), text.end(), re), std::sregex_iterator()));
}

TEST(DashboardTest, HeadlessChromiumDrawsTheLiveJob) {
  testing::TempDir tmp;
  Configuration c;
  ASSERT_TRUE(c.Set(config::kParallelism, "2").ok());
  ASSERT_TRUE(c.Set(config::kIncremental, "true").ok());
  ASSERT_TRUE(c.Set(config::kInterval, "150ms").ok());
  ASSERT_TRUE(c.Set(config::kCheckpointsDir, tmp.Sub("checkpoints")).ok());
  ASSERT_TRUE(c.Set(config::kLocalDir, tmp.Sub("local")).ok());
  auto job = JobRuntime::Create(
      testing::AggregateJob(2000000, 2000, 20000, tmp.Sub("out"), nullptr, nullptr), c);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  web::RestServer server(**job);
  ASSERT_TRUE(server.Start("127.0.0.1", 0).ok());
  JobResult result;
  std::thread runner([&] { result = (*job)->Run(); });
  httplib::Client client("127.0.0.1", server.port());
  const std::string checkpoints_path = "/jobs/" + (*job)->job_id() + "/checkpoints";
  ASSERT_TRUE(testing::WaitFor([&] {
    auto res = client.Get(checkpoints_path);
    return res && nlohmann::json::parse(res->body)["counts"]["completed"].get<int>() >= 3;
  }));
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/";
  const std::string dom = Browse(url, "--dump-dom", tmp.Sub("profile"), [](const std::string& out) {
    return out.find("</html>") != std::string::npos;
  });
  ASSERT_FALSE(dom.empty())
      << "chromium printed nothing (is it installed? scripts/install-deps.sh)";

  // The job's name, state and operators.
  EXPECT_NE(dom.find("<h1 id=\"job-name\">test-aggregate</h1>"), std::string::npos) << dom;
  EXPECT_NE(dom.find(">RUNNING<"), std::string::npos);
  EXPECT_NE(dom.find("<td class=\"text\">aggregate -&gt; sink</td>"), std::string::npos) << dom;
  // The history table holds completed checkpoints, among them one the REST API reports.
  const size_t completed_rows = Count(dom, std::regex("<tr class=\"row COMPLETED\" data-id=\""));
  EXPECT_GE(completed_rows, 3u) << dom;
  auto cp = nlohmann::json::parse(client.Get(checkpoints_path)->body);
  const uint64_t first_completed = [&] {
    uint64_t id = 0;
    for (const auto& h : cp["history"]) {
      if (h["status"] == "COMPLETED") id = h["id"].get<uint64_t>();  // history is newest first
    }
    return id;
  }();
  EXPECT_NE(dom.find("data-id=\"" + std::to_string(first_completed) + "\""), std::string::npos);
  // Both charts are drawn from the completed checkpoints: one bar per checkpoint (two series on
  // the bytes chart).
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(dom, m, std::regex("id=\"chart-duration\"[^>]*data-points=\"(\\d+)\"")))
      << dom;
  const size_t points = std::stoul(m[1]);
  EXPECT_GE(points, 3u);
  EXPECT_GE(Count(dom, std::regex("<rect [^>]*class=\"bar\"")), 3 * points);
  // The storage view: the directory against the live state.
  EXPECT_TRUE(std::regex_search(dom, std::regex("files in shared/ \\(.*the live state"))) << dom;
  // ... and what the newest retained checkpoint references: its own files and inherited ones.
  EXPECT_TRUE(
      std::regex_search(dom, std::regex("; checkpoint \\d+: [^;]* its own \\(\\d+ files\\), "
                                        "[^;]* inherited \\(\\d+\\)")))
      << dom;
  EXPECT_TRUE(std::regex_search(dom, std::regex("id=\"chart-storage\"[^>]*data-points=\"[1-9]")));
  // The latest checkpoint's subtasks: 4 rows (events#0/1, aggregate#0/1), a straggler marked.
  EXPECT_NE(dom.find("id=\"detail-title\">Checkpoint "), std::string::npos) << dom;
  EXPECT_EQ(Count(dom, std::regex("<td>(events|aggregate)#[01]</td>")), 4u) << dom;
  EXPECT_EQ(Count(dom, std::regex("<tr class=\"straggler\">")), 1u);
  EXPECT_NE(dom.find("<div id=\"error\"></div>"), std::string::npos) << "the page shows an error";
  // The details sit above the history (reachable without scrolling past it); each subtask's
  // start delay is shown beside its alignment, sync and async parts.
  EXPECT_LT(dom.find("id=\"detail-section\""), dom.find("id=\"history\"")) << dom;
  EXPECT_NE(dom.find("<th>start delay ms</th>"), std::string::npos);
  // The summary (min ... max of durations and sizes) and the checkpointing configuration.
  for (const char* row :
       {"end to end", "sync pause (slowest)", "async part (slowest)", "written", "full state"}) {
    EXPECT_NE(dom.find("<tr><td>" + std::string(row) + "</td>"), std::string::npos) << row;
  }
  EXPECT_NE(dom.find("<dt>mode</dt><dd>exactly_once</dd>"), std::string::npos) << dom;
  EXPECT_NE(dom.find("<dt>incremental</dt><dd>yes</dd>"), std::string::npos);
  // Charts have labelled axes: values with their unit and the time of checkpoints.
  ASSERT_TRUE(std::regex_search(dom, m, std::regex("id=\"chart-duration\"[^>]*>(.*?)</svg>")))
      << dom;
  const std::string chart = m[1];
  EXPECT_TRUE(std::regex_search(chart, std::regex("<text[^>]*>[0-9.]+ (ms|s)</text>"))) << chart;
  EXPECT_TRUE(std::regex_search(chart, std::regex("<text[^>]*>[0-9]{1,2}:[0-9]{2}:[0-9]{2}")))
      << chart;

  // A screenshot for the README (docs/dashboard.png is a committed copy).
  const std::string png = std::string(WEIR_BINARY_DIR) + "/dashboard.png";
  std::filesystem::remove(png);
  Browse(url, "--screenshot=" + png, tmp.Sub("profile2"),
         [&](const std::string&) { return std::filesystem::exists(png); });
  ASSERT_TRUE(std::filesystem::exists(png));
  EXPECT_GT(std::filesystem::file_size(png), 20000u);

  (*job)->Cancel();
  runner.join();
  server.Stop();
  EXPECT_EQ(result.outcome, JobOutcome::kCancelled);
}

}  // namespace
}  // namespace weir
