// The REST API and /metrics of a running in-process job: every endpoint's schema, values that
// match what the checkpoints actually wrote (read back from their _metadata), 404s with a JSON
// error, and the metrics text parsed back.
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "aggregate_job.h"
#include "checkpoint/checkpoint_metadata.h"
#include "runtime/job_runtime.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"
#include "web/rest_json.h"
#include "web/rest_server.h"

namespace weir {
namespace {

using json = nlohmann::json;

class RestApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Configuration c;
    ASSERT_TRUE(c.Set(config::kParallelism, "2").ok());
    ASSERT_TRUE(c.Set(config::kIncremental, "true").ok());
    ASSERT_TRUE(c.Set(config::kInterval, "100ms").ok());
    ASSERT_TRUE(c.Set(config::kNumRetained, "1000").ok());
    ASSERT_TRUE(c.Set(config::kCheckpointsDir, tmp_.Sub("checkpoints")).ok());
    ASSERT_TRUE(c.Set(config::kLocalDir, tmp_.Sub("local")).ok());
    auto job = JobRuntime::Create(
        testing::AggregateJob(40000, 500, 20000, tmp_.Sub("out"), nullptr, nullptr), c);
    ASSERT_TRUE(job.ok()) << job.status().ToString();
    job_ = std::move(job).value();
    server_ = std::make_unique<web::RestServer>(*job_);
    ASSERT_TRUE(server_->Start("127.0.0.1", 0).ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    runner_ = std::thread([this] { result_ = job_->Run(); });
  }
  void TearDown() override {
    if (runner_.joinable()) runner_.join();
    server_->Stop();
  }

  // GET `path`: (status, parsed body).
  std::pair<int, json> Get(const std::string& path) {
    auto res = client_->Get(path);
    if (!res) return {0, json()};
    return {res->status, json::parse(res->body, nullptr, false)};
  }

  testing::TempDir tmp_;
  std::unique_ptr<JobRuntime> job_;
  std::unique_ptr<web::RestServer> server_;
  std::unique_ptr<httplib::Client> client_;
  std::thread runner_;
  JobResult result_;
};

TEST_F(RestApiTest, EndpointsDescribeTheJobAndItsCheckpoints) {
  const std::string id = job_->job_id();
  ASSERT_TRUE(testing::WaitFor([&] {
    auto [status, body] = Get("/jobs/" + id + "/checkpoints");
    return status == 200 && body["counts"]["completed"].get<int>() >= 3;
  }));

  auto [jobs_status, jobs] = Get("/jobs");
  ASSERT_EQ(jobs_status, 200);
  ASSERT_EQ(jobs["jobs"].size(), 1u);
  EXPECT_EQ(jobs["jobs"][0]["id"], id);
  EXPECT_EQ(jobs["jobs"][0]["status"], "RUNNING");

  auto [job_status, job] = Get("/jobs/" + id);
  ASSERT_EQ(job_status, 200);
  EXPECT_EQ(job["jid"], id);
  EXPECT_EQ(job["name"], "test-aggregate");
  EXPECT_EQ(job["state"], "RUNNING");
  EXPECT_GT(job["start-time"].get<int64_t>(), 0);
  ASSERT_EQ(job["vertices"].size(), job_->plan().vertices.size());
  EXPECT_EQ(job["vertices"][0]["uid"], "events");
  EXPECT_TRUE(
      std::regex_match(job["vertices"][0]["id"].get<std::string>(), std::regex("[0-9a-f]{32}")));
  EXPECT_EQ(job["vertices"][0]["parallelism"], 2);
  EXPECT_EQ(job["vertices"][1]["keyed"], true);
  EXPECT_EQ(job["vertices"][1]["input"], job["vertices"][0]["id"]);

  auto [cp_status, cp] = Get("/jobs/" + id + "/checkpoints");
  ASSERT_EQ(cp_status, 200);
  for (const char* k : {"restored", "total", "in_progress", "completed", "failed"}) {
    EXPECT_TRUE(cp["counts"].contains(k)) << k;
  }
  for (const char* k : {"end_to_end_duration", "checkpointed_size", "state_size"}) {
    for (const char* m : {"min", "avg", "max"}) EXPECT_TRUE(cp["summary"][k].contains(m)) << k;
  }
  EXPECT_LE(cp["summary"]["state_size"]["min"].get<int64_t>(),
            cp["summary"]["state_size"]["max"].get<int64_t>());
  const json latest = cp["latest"]["completed"];
  ASSERT_TRUE(latest.is_object());
  ASSERT_FALSE(cp["history"].empty());

  // The latest completed checkpoint's figures are those of its _metadata.
  const std::string path = latest["external_path"];
  auto metadata = ReadCheckpointMetadata(*NewPosixFileSystem(), path);
  ASSERT_TRUE(metadata.ok()) << metadata.status().ToString();
  EXPECT_EQ(latest["checkpointed_size"].get<uint64_t>(), metadata->CheckpointedBytes());
  EXPECT_EQ(latest["state_size"].get<uint64_t>(), metadata->FullBytes());
  EXPECT_EQ(latest["end_to_end_duration"].get<int64_t>(),
            metadata->completed_unix_ms - metadata->trigger_unix_ms);

  auto [d_status, detail] =
      Get("/jobs/" + id + "/checkpoints/details/" + std::to_string(latest["id"].get<uint64_t>()));
  ASSERT_EQ(d_status, 200);
  EXPECT_EQ(detail["status"], "COMPLETED");
  ASSERT_EQ(detail["subtasks"].size(), 4u);  // events#0,1 and aggregate#0,1
  uint64_t written = 0, files = 0;
  for (const auto& t : detail["subtasks"]) {
    for (const char* k : {"task", "ack_timestamp", "sync_duration_us", "backend_sync_duration_us",
                          "alignment_duration_us", "async_duration_us", "checkpointed_size",
                          "state_size", "files_written", "files_reused"}) {
      EXPECT_TRUE(t.contains(k)) << k;
    }
    written += t["checkpointed_size"].get<uint64_t>();
    files += t["files_written"].get<uint64_t>() + t["files_reused"].get<uint64_t>();
  }
  EXPECT_EQ(written, metadata->CheckpointedBytes());
  uint64_t files_in_metadata = 0;
  for (const auto& b : metadata->backends) files_in_metadata += b.files.size();
  EXPECT_EQ(files, files_in_metadata);

  auto [c_status, config] = Get("/jobs/" + id + "/checkpoints/config");
  ASSERT_EQ(c_status, 200);
  EXPECT_EQ(config["interval"], 100);
  EXPECT_EQ(config["mode"], "exactly_once");
  EXPECT_EQ(config["incremental"], true);
  EXPECT_EQ(config["timeout"], 600000);

  for (const std::string& bad :
       std::vector<std::string>{"/jobs/nope", "/jobs/nope/checkpoints",
                                "/jobs/" + id + "/checkpoints/details/99999", "/no/such/path"}) {
    auto [status, body] = Get(bad);
    EXPECT_EQ(status, 404) << bad;
    ASSERT_TRUE(body.is_object()) << bad;
    ASSERT_TRUE(body["errors"].is_array()) << bad;
    EXPECT_FALSE(body["errors"][0].get<std::string>().empty()) << bad;
  }

  runner_.join();
  EXPECT_EQ(result_.outcome, JobOutcome::kFinished);
  auto [done_status, done] = Get("/jobs/" + id);
  EXPECT_EQ(done["state"], "FINISHED");
  EXPECT_GT(done["end-time"].get<int64_t>(), 0);

  // Storage, once nothing changes any more: what the endpoint lists is what is on disk.
  auto [s_status, storage] = Get("/jobs/" + id + "/checkpoints/storage");
  ASSERT_EQ(s_status, 200);
  ASSERT_FALSE(storage["retained"].empty());
  for (const auto& r : storage["retained"]) {
    EXPECT_EQ(r["own_size"].get<uint64_t>() + r["inherited_size"].get<uint64_t>(),
              r["state_size"].get<uint64_t>())
        << r.dump();
    EXPECT_EQ(r["changelog_size"].get<uint64_t>(), 0u) << r.dump();  // incremental checkpoints
  }
  // Incremental checkpoints inherit files (not necessarily the last: a compaction may have
  // rewritten everything).
  EXPECT_TRUE(std::any_of(storage["retained"].begin(), storage["retained"].end(),
                          [](const json& r) { return r["inherited_files"].get<uint64_t>() > 0; }));
  uint64_t on_disk = 0, files_on_disk = 0, shared = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(job_->job_dir())) {
    if (!e.is_regular_file()) continue;
    on_disk += e.file_size();
    ++files_on_disk;
    if (e.path().parent_path().filename() == "shared") ++shared;
  }
  EXPECT_EQ(storage["total_size"].get<uint64_t>(), on_disk);
  EXPECT_EQ(storage["total_files"].get<uint64_t>(), files_on_disk);
  EXPECT_EQ(storage["shared_files"].get<uint64_t>(), shared);
  EXPECT_EQ(storage["live_state_size"].get<uint64_t>(),
            storage["retained"].back()["state_size"].get<uint64_t>());
  EXPECT_GT(storage["size_ratio"].get<double>(), 0.0);
}

// With dstl.dfs.base-path the state-change log lies outside the job directory: the storage view
// lists its directory too, and the totals are what both hold on disk.
TEST(CheckpointStorageJsonTest, ListsTheLogDirectoryOfABasePath) {
  testing::TempDir tmp;
  Configuration c;
  ASSERT_TRUE(c.Set(config::kParallelism, "2").ok());
  ASSERT_TRUE(c.Set(config::kInterval, "100ms").ok());
  ASSERT_TRUE(c.Set(config::kCheckpointsDir, tmp.Sub("checkpoints")).ok());
  ASSERT_TRUE(c.Set(config::kLocalDir, tmp.Sub("local")).ok());
  ASSERT_TRUE(c.Set("state.backend.changelog.enabled", "true").ok());
  ASSERT_TRUE(c.Set("dstl.dfs.base-path", tmp.Sub("dstl")).ok());
  auto job = JobRuntime::Create(
      testing::AggregateJob(20000, 500, 20000, tmp.Sub("out"), nullptr, nullptr), c);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  ASSERT_EQ((*job)->Run().outcome, JobOutcome::kFinished);
  const json storage = web::CheckpointStorageJson(**job);
  const auto on_disk = [](const std::string& root) {
    std::pair<uint64_t, uint64_t> files_bytes{0, 0};
    for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
      if (!e.is_regular_file()) continue;
      ++files_bytes.first;
      files_bytes.second += e.file_size();
    }
    return files_bytes;
  };
  const std::string log_dir = storage["changelog_dir"].get<std::string>();
  ASSERT_EQ(log_dir.rfind(tmp.Sub("dstl"), 0), 0u) << storage.dump(2);
  const auto [log_files, log_bytes] = on_disk(log_dir);
  const auto [job_files, job_bytes] = on_disk((*job)->job_dir());
  EXPECT_GT(log_files, 0u);
  EXPECT_EQ(storage["changelog_dir_files"].get<uint64_t>(), log_files);
  EXPECT_EQ(storage["changelog_dir_size"].get<uint64_t>(), log_bytes);
  EXPECT_EQ(storage["total_files"].get<uint64_t>(), job_files + log_files);
  EXPECT_EQ(storage["total_size"].get<uint64_t>(), job_bytes + log_bytes);
  uint64_t referenced = 0;
  for (const auto& r : storage["retained"]) referenced += r["changelog_size"].get<uint64_t>();
  EXPECT_GT(referenced, 0u) << "retained changelog checkpoints reference log files";
}

// The Prometheus text format, parsed back: HELP and TYPE before each family's samples, every
// sample "name{labels} value" with the job's labels, and values that agree with the REST API.
TEST_F(RestApiTest, MetricsParseBackAndAgreeWithTheRestApi) {
  ASSERT_TRUE(testing::WaitFor([&] { return job_->checkpoint_stats()->completed >= 2; }));
  auto res = client_->Get("/metrics");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_NE(res->get_header_value("Content-Type").find("text/plain"), std::string::npos);
  const std::regex sample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\} (-?[0-9.e+]+)$)");
  const std::regex label(R"(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)\")");
  std::map<std::string, std::string> types;
  std::map<std::string, double> values;  // name{operator} -> value
  std::istringstream lines(res->body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream t(line.substr(7));
      std::string name, type;
      t >> name >> type;
      EXPECT_TRUE(type == "gauge" || type == "counter") << line;
      types[name] = type;
      continue;
    }
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, sample)) << line;
    const std::string name = m[1];
    EXPECT_TRUE(types.count(name)) << "no TYPE before " << line;
    if (types[name] == "counter") {
      EXPECT_EQ(name.substr(name.size() - 6), "_total") << name;
    }
    std::map<std::string, std::string> labels;
    const std::string label_text = m[2];
    for (auto it = std::sregex_iterator(label_text.begin(), label_text.end(), label);
         it != std::sregex_iterator(); ++it) {
      labels[(*it)[1]] = (*it)[2];
    }
    EXPECT_EQ(labels["job_id"], job_->job_id()) << line;
    values[name + (labels.count("operator") ? "{" + labels["operator"] + "}" : "")] =
        std::stod(m[3]);
  }
  EXPECT_GE(values["weir_checkpoints_completed_total"], 2);
  EXPECT_EQ(values["weir_job_restarts_total"], 0);
  EXPECT_EQ(values["weir_job_running"], 1);
  EXPECT_GT(values["weir_last_checkpoint_full_size_bytes"], 0);
  EXPECT_GT(values["weir_operator_records_out_total{events}"], 0);
  EXPECT_GT(values["weir_operator_records_in_total{aggregate}"], 0);
  EXPECT_TRUE(values.count("weir_operator_backpressure_seconds_total{events}"));
  // Counts only grow: the REST API read afterwards shows at least as many.
  auto [status, cp] = Get("/jobs/" + job_->job_id() + "/checkpoints");
  EXPECT_GE(cp["counts"]["completed"].get<double>(), values["weir_checkpoints_completed_total"]);
}

// A server of a small job that is never run: what the server tests below serve.
class RestServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto job = JobRuntime::Create(
        testing::AggregateJob(10, 5, 0, tmp_.Sub("out"), nullptr, nullptr), Configuration());
    ASSERT_TRUE(job.ok());
    job_ = std::move(job).value();
  }
  testing::TempDir tmp_;
  std::unique_ptr<JobRuntime> job_;
};

// A job that fails at once stops the server right after it started: Stop() must not hang (httplib
// ignores a stop that comes before the server runs).
TEST_F(RestServerTest, StopRightAfterStartReturns) {
  for (int i = 0; i < 50; ++i) {
    web::RestServer server(*job_);
    ASSERT_TRUE(server.Start("127.0.0.1", 0).ok());
    server.Stop();
  }
}

// Two jobs given the same port: the second must not share it (SO_REUSEPORT would split requests).
TEST_F(RestServerTest, APortInUseIsRefusedNotShared) {
  web::RestServer first(*job_);
  ASSERT_TRUE(first.Start("127.0.0.1", 0).ok());
  web::RestServer second(*job_);
  const Status s = second.Start("127.0.0.1", first.port());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("in use"), std::string::npos) << s.message();
}

// Idle connections (opened, nothing sent) must not starve a real request.
TEST_F(RestServerTest, IdleConnectionsDoNotStarveRequests) {
  web::RestServer server(*job_);
  ASSERT_TRUE(server.Start("127.0.0.1", 0).ok());
  std::vector<int> idle;
  for (int i = 0; i < 50; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server.port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    idle.push_back(fd);
  }
  httplib::Client client("127.0.0.1", server.port());
  // The answer comes while all 50 stay open (a starved request would hit this generous limit).
  client.set_read_timeout(std::chrono::seconds(5));
  client.set_connection_timeout(std::chrono::seconds(5));
  auto res = client.Get("/jobs");
  ASSERT_TRUE(res) << "no answer with 50 idle connections open";
  EXPECT_EQ(res->status, 200);
  for (int fd : idle) ::close(fd);
}

// Flink's checkpoint configuration fields about changelog checkpoints follow the configuration.
TEST(CheckpointConfigJsonTest, ReportsChangelogCheckpointsAsConfigured) {
  Configuration config;
  nlohmann::json off = web::CheckpointConfigJson(config);
  EXPECT_EQ(off["state_changelog_enabled"], false);
  EXPECT_EQ(off["changelog_periodic_materialization_interval"], 0);
  EXPECT_EQ(off["changelog_storage"], "");
  ASSERT_TRUE(config.Set("state.backend.changelog.enabled", "true").ok());
  ASSERT_TRUE(config.Set("state.backend.changelog.periodic-materialize.interval", "3s").ok());
  nlohmann::json on = web::CheckpointConfigJson(config);
  EXPECT_EQ(on["state_changelog_enabled"], true);
  EXPECT_EQ(on["changelog_periodic_materialization_interval"], 3000);
  EXPECT_EQ(on["changelog_storage"], "filesystem");
}

}  // namespace
}  // namespace weir
