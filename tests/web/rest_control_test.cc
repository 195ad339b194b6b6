// Job control over REST: savepoints, manual checkpoints, stop and cancel in Flink's shapes, and
// who may use them: refused when control is off (the default on a non-loopback address), without
// the bearer token or with another one; wrong methods answer 405.
#include "web/rest_control.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "aggregate_job.h"
#include "runtime/job_runtime.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"
#include "web/rest_server.h"
#include "web/web_options.h"

namespace weir {
namespace {

using json = nlohmann::json;

class RestControlTest : public ::testing::Test {
 protected:
  void Start(web::RestControlOptions control, int64_t rate = 20000) {
    Configuration c;
    ASSERT_TRUE(c.Set(config::kParallelism, "2").ok());
    ASSERT_TRUE(c.Set(config::kIncremental, "true").ok());
    ASSERT_TRUE(c.Set(config::kInterval, "100ms").ok());
    ASSERT_TRUE(c.Set(config::kNumRetained, "100").ok());
    ASSERT_TRUE(c.Set(config::kCheckpointsDir, tmp_.Sub("checkpoints")).ok());
    ASSERT_TRUE(c.Set(config::kSavepointsDir, tmp_.Sub("savepoints")).ok());
    ASSERT_TRUE(c.Set(config::kLocalDir, tmp_.Sub("local")).ok());
    auto job = JobRuntime::Create(
        testing::AggregateJob(200000, 500, rate, tmp_.Sub("out"), nullptr, nullptr), c);
    ASSERT_TRUE(job.ok()) << job.status().ToString();
    job_ = std::move(job).value();
    server_ = std::make_unique<web::RestServer>(*job_, std::move(control));
    ASSERT_TRUE(server_->Start("127.0.0.1", 0).ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    runner_ = std::thread([this] { result_ = job_->Run(); });
    ASSERT_TRUE(testing::WaitFor([&] { return job_->status().state == JobState::kRunning; }));
    id_ = job_->job_id();
  }
  void TearDown() override {
    if (job_) job_->Cancel();
    if (runner_.joinable()) runner_.join();
    if (server_) server_->Stop();
  }

  struct Answer {
    int status = 0;
    json body;
    std::string allow;
    std::string www_authenticate;
  };
  Answer Wrap(const httplib::Result& r) {
    if (!r) return {};
    return {r->status, json::parse(r->body, nullptr, false), r->get_header_value("Allow"),
            r->get_header_value("WWW-Authenticate")};
  }
  Answer Get(const std::string& path) { return Wrap(client_->Get(path)); }
  Answer Post(const std::string& path, const std::string& body, const std::string& token = "") {
    httplib::Headers h;
    if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
    return Wrap(client_->Post(path, h, body, "application/json"));
  }
  // Polls a request until it completed; its final answer.
  Answer Await(const std::string& path) {
    Answer a;
    EXPECT_TRUE(testing::WaitFor(
        [&] {
          a = Get(path);
          return a.status == 200 && a.body["status"]["id"] == "COMPLETED";
        },
        std::chrono::seconds(60)));
    return a;
  }

  testing::TempDir tmp_;
  std::unique_ptr<JobRuntime> job_;
  std::unique_ptr<web::RestServer> server_;
  std::unique_ptr<httplib::Client> client_;
  std::thread runner_;
  JobResult result_;
  std::string id_;
};

web::RestControlOptions Loopback() { return {true, "", ""}; }

TEST_F(RestControlTest, SavepointCheckpointAndStopInFlinksShapes) {
  Start(Loopback());
  ASSERT_TRUE(testing::WaitFor([&] { return job_->completed_checkpoints().size() >= 2; }));
  // A native savepoint into a directory of the request's choosing.
  const std::string target = tmp_.Sub("chosen");
  auto accepted = Post(
      "/jobs/" + id_ + "/savepoints",
      json{{"target-directory", target}, {"formatType", "NATIVE"}, {"cancel-job", false}}.dump());
  ASSERT_EQ(accepted.status, 202) << accepted.body.dump();
  const std::string request = accepted.body["request-id"];
  ASSERT_EQ(request.size(), 32u);
  auto done = Await("/jobs/" + id_ + "/savepoints/" + request);
  const std::string location = done.body["operation"]["location"];
  EXPECT_EQ(std::filesystem::path(location).parent_path(), std::filesystem::path(target));
  EXPECT_TRUE(std::filesystem::exists(location + "/_metadata"));
  // The history shows it, and latest.savepoint.
  auto history = Get("/jobs/" + id_ + "/checkpoints");
  ASSERT_EQ(history.status, 200);
  EXPECT_TRUE(history.body["latest"]["savepoint"]["is_savepoint"].get<bool>());
  EXPECT_EQ(history.body["latest"]["savepoint"]["savepointFormat"], "NATIVE");
  EXPECT_EQ(history.body["latest"]["savepoint"]["external_path"], location + "/_metadata");
  EXPECT_FALSE(history.body["latest"]["completed"]["is_savepoint"].get<bool>());

  // A manual full checkpoint.
  auto checkpoint = Post("/jobs/" + id_ + "/checkpoints", json{{"checkpointType", "FULL"}}.dump());
  ASSERT_EQ(checkpoint.status, 202) << checkpoint.body.dump();
  auto full =
      Await("/jobs/" + id_ + "/checkpoints/" + checkpoint.body["request-id"].get<std::string>());
  const uint64_t full_id = full.body["operation"]["checkpointId"];
  auto detail = Get("/jobs/" + id_ + "/checkpoints/details/" + std::to_string(full_id));
  ASSERT_EQ(detail.status, 200);
  EXPECT_EQ(detail.body["checkpoint_type"], "CHECKPOINT");
  EXPECT_EQ(detail.body["kind"], "FULL");
  EXPECT_FALSE(detail.body["is_savepoint"].get<bool>());
  // A savepoint request id is no checkpoint request id, and an unknown one is 404.
  EXPECT_EQ(Get("/jobs/" + id_ + "/checkpoints/" + request).status, 404);
  EXPECT_EQ(Get("/jobs/" + id_ + "/savepoints/0123456789abcdef0123456789abcdef").status, 404);

  // Stop with a savepoint: the job finishes.
  auto stop = Post("/jobs/" + id_ + "/stop", json{{"drain", false}}.dump());
  ASSERT_EQ(stop.status, 202) << stop.body.dump();
  auto stopped =
      Await("/jobs/" + id_ + "/savepoints/" + stop.body["request-id"].get<std::string>());
  const std::string stop_location = stopped.body["operation"]["location"];
  EXPECT_EQ(std::filesystem::path(stop_location).parent_path(),
            std::filesystem::path(tmp_.Sub("savepoints")));
  runner_.join();
  EXPECT_EQ(result_.outcome, JobOutcome::kFinished);
  EXPECT_EQ(result_.savepoint_path, stop_location);
  // A finished job refuses control with 409.
  EXPECT_EQ(Post("/jobs/" + id_ + "/savepoints", "{}").status, 409);
}

TEST_F(RestControlTest, BadRequestsAndWrongMethods) {
  Start(Loopback());
  auto bad_json = Post("/jobs/" + id_ + "/savepoints", "{not json");
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_TRUE(bad_json.body["errors"].is_array());
  EXPECT_EQ(Post("/jobs/" + id_ + "/savepoints", R"({"formatType": "ZIP"})").status, 400);
  EXPECT_EQ(Post("/jobs/" + id_ + "/savepoints", R"({"cancel-job": "yes"})").status, 400);
  EXPECT_EQ(Post("/jobs/" + id_ + "/checkpoints", R"({"checkpointType": "HALF"})").status, 400);
  EXPECT_EQ(Post("/jobs/0000/stop", "{}").status, 404);
  // A target inside the job's own directory is refused: gc would take it for orphans.
  auto inside = Post("/jobs/" + id_ + "/savepoints",
                     json{{"target-directory", job_->job_dir() + "/sp"}}.dump());
  EXPECT_EQ(inside.status, 400) << inside.body.dump();

  auto del = Wrap(client_->Delete("/jobs/" + id_));
  EXPECT_EQ(del.status, 405);
  EXPECT_EQ(del.allow, "GET, PATCH");
  EXPECT_TRUE(del.body["errors"].is_array());
  auto get_stop = Get("/jobs/" + id_ + "/stop");
  EXPECT_EQ(get_stop.status, 405);
  EXPECT_EQ(get_stop.allow, "POST");
  EXPECT_EQ(Wrap(client_->Put("/jobs", "", "application/json")).status, 405);
  EXPECT_EQ(Post("/jobs/" + id_ + "/checkpoints/config", "{}").status, 405);
  EXPECT_EQ(Post("/metrics", "{}").status, 405);

  auto cancel = Wrap(client_->Patch("/jobs/" + id_ + "?mode=cancel", "", "application/json"));
  EXPECT_EQ(cancel.status, 202);
  runner_.join();
  EXPECT_EQ(result_.outcome, JobOutcome::kCancelled);
}

TEST_F(RestControlTest, TokenIsRequiredWhenConfigured) {
  Start({true, "correct-horse-battery", ""});
  const std::string path = "/jobs/" + id_ + "/checkpoints";
  auto none = Post(path, "{}");
  EXPECT_EQ(none.status, 401);
  EXPECT_TRUE(none.body["errors"].is_array());
  EXPECT_NE(none.www_authenticate.find("Bearer"), std::string::npos);
  EXPECT_EQ(Post(path, "{}", "correct-horse-batterx").status, 401);
  EXPECT_EQ(Post(path, "{}", "correct-horse-battery-staple").status, 401);
  EXPECT_EQ(Wrap(client_->Patch("/jobs/" + id_ + "?mode=cancel", "", "application/json")).status,
            401);
  EXPECT_EQ(job_->status().state, JobState::kRunning);
  // Reading needs no token.
  EXPECT_EQ(Get(path).status, 200);
  auto ok = Post(path, "{}", "correct-horse-battery");
  EXPECT_EQ(ok.status, 202) << ok.body.dump();
}

TEST_F(RestControlTest, ControlOffAnswers403) {
  Configuration c;
  auto off = web::RestControlFromConfig(c, "0.0.0.0");  // not loopback: off by default
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->enabled);
  Start(*off);
  for (const std::string& path : {"/jobs/" + id_ + "/savepoints", "/jobs/" + id_ + "/stop",
                                  "/jobs/" + id_ + "/checkpoints"}) {
    auto a = Post(path, "{}");
    EXPECT_EQ(a.status, 403) << path;
    ASSERT_TRUE(a.body["errors"].is_array());
    EXPECT_NE(a.body["errors"][0].get<std::string>().find("rest.control.enabled"),
              std::string::npos);
  }
  EXPECT_EQ(Wrap(client_->Patch("/jobs/" + id_, "", "application/json")).status, 403);
  EXPECT_EQ(job_->status().state, JobState::kRunning);
}

TEST(RestControlOptionsTest, DefaultsAndRefusals) {
  testing::TempDir tmp;
  Configuration c;
  for (const char* address : {"127.0.0.1", "127.0.0.2", "localhost", "::1"}) {
    auto o = web::RestControlFromConfig(c, address);
    ASSERT_TRUE(o.ok());
    EXPECT_TRUE(o->enabled) << address;
    EXPECT_TRUE(o->token.empty());
  }
  EXPECT_FALSE(web::RestControlFromConfig(c, "192.168.1.5")->enabled);
  // Enabled on a non-loopback address without a token: refused at start.
  ASSERT_TRUE(c.Set(config::kRestControl, "true").ok());
  auto open = web::RestControlFromConfig(c, "0.0.0.0");
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.status().message().find("rest.auth.token-file"), std::string::npos);
  // With a token file readable by its owner only, it is served with the token.
  const std::string token = tmp.Sub("token");
  std::ofstream(token) << "  s3cret-token \n";
  ASSERT_EQ(::chmod(token.c_str(), 0600), 0);
  ASSERT_TRUE(c.Set(config::kRestTokenFile, token).ok());
  auto with_token = web::RestControlFromConfig(c, "0.0.0.0");
  ASSERT_TRUE(with_token.ok()) << with_token.status().ToString();
  EXPECT_TRUE(with_token->enabled);
  EXPECT_EQ(with_token->token, "s3cret-token");
  // A token others can read protects nothing; a missing or empty file is an error.
  ASSERT_EQ(::chmod(token.c_str(), 0644), 0);
  EXPECT_FALSE(web::RestControlFromConfig(c, "0.0.0.0").ok());
  ASSERT_TRUE(c.Set(config::kRestTokenFile, tmp.Sub("missing")).ok());
  EXPECT_FALSE(web::RestControlFromConfig(c, "127.0.0.1").ok());
  std::ofstream(tmp.Sub("empty")) << "\n";
  ASSERT_EQ(::chmod(tmp.Sub("empty").c_str(), 0600), 0);
  ASSERT_TRUE(c.Set(config::kRestTokenFile, tmp.Sub("empty")).ok());
  EXPECT_FALSE(web::RestControlFromConfig(c, "127.0.0.1").ok());
  // Off on loopback too when asked.
  Configuration off;
  ASSERT_TRUE(off.Set(config::kRestControl, "false").ok());
  EXPECT_FALSE(web::RestControlFromConfig(off, "127.0.0.1")->enabled);
}

TEST(RestControlOptionsTest, ConstantTimeEquals) {
  EXPECT_TRUE(web::ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(web::ConstantTimeEquals("abd", "abc"));
  EXPECT_FALSE(web::ConstantTimeEquals("ab", "abc"));
  EXPECT_FALSE(web::ConstantTimeEquals("abcabc", "abc"));
  EXPECT_FALSE(web::ConstantTimeEquals("", "abc"));
  EXPECT_TRUE(web::ConstantTimeEquals("", ""));
}

}  // namespace
}  // namespace weir
