// weir's REST answers against Flink's published rest_v1 description (tests/web/testdata, an
// excerpt of the endpoints weir serves): every field the description lists is there with its
// type (integers are integers, ids 32 hex digits, enums one of theirs, className picks the
// subtype), for a running job with completed checkpoints, a savepoint and a failure. Then a
// client typed as Flink's docs describe the checkpoint statistics reads them.
#include <gtest/gtest.h>
#include <httplib.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <thread>
#include <variant>

#include "aggregate_job.h"
#include "runtime/job_runtime.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"
#include "web/rest_server.h"

namespace weir {
namespace {

using json = nlohmann::json;

// Checks JSON values against the OpenAPI schemas of the excerpt; collects every mismatch with
// the path to it.
class SchemaChecker {
 public:
  explicit SchemaChecker(YAML::Node spec) : spec_(std::move(spec)) {}

  YAML::Node ResponseSchema(const std::string& path, const std::string& method,
                            const std::string& status) const {
    return spec_["paths"][path][method]["responses"][status]["content"]["application/json"]
                ["schema"];
  }

  std::vector<std::string> Check(const json& value, const YAML::Node& schema) {
    errors_.clear();
    Validate(value, schema, "$");
    return errors_;
  }

 private:
  YAML::Node Resolve(YAML::Node schema) const {
    while (schema["$ref"]) {
      const std::string ref = schema["$ref"].as<std::string>();
      const std::string prefix = "#/components/schemas/";
      // reset(), not `=`: assigning a YAML::Node would overwrite the node it refers to.
      schema.reset(spec_["components"]["schemas"][ref.substr(prefix.size())]);
      if (!schema) return schema;
    }
    return schema;
  }

  void Fail(const std::string& where, const std::string& what) {
    errors_.push_back(where + ": " + what);
  }

  // `dispatch`: follow the discriminator (off when checking a subtype's base part).
  void Validate(const json& v, const YAML::Node& raw, const std::string& where,
                bool dispatch = true) {
    const YAML::Node s = Resolve(raw);
    if (!s) return Fail(where, "schema " + raw["$ref"].as<std::string>("?") + " not in the file");
    if (v.is_null()) {
      if (!(raw["nullable"] && raw["nullable"].as<bool>()) &&
          !(s["nullable"] && s["nullable"].as<bool>())) {
        Fail(where, "null where the schema allows none");
      }
      return;
    }
    if (dispatch && s["discriminator"]) {
      const std::string property = s["discriminator"]["propertyName"].as<std::string>();
      if (!v.is_object() || !v.contains(property) || !v[property].is_string()) {
        return Fail(where, "no discriminator " + property);
      }
      const YAML::Node target = s["discriminator"]["mapping"][v[property].get<std::string>()];
      if (!target) return Fail(where, "unknown " + property + " " + v[property].dump());
      YAML::Node ref;
      ref["$ref"] = target.as<std::string>();
      return Validate(v, ref, where, true);
    }
    if (s["allOf"]) {
      for (const auto& part : s["allOf"]) Validate(v, part, where, /*dispatch=*/false);
    }
    const std::string type = s["type"] ? s["type"].as<std::string>() : "";
    if (type == "object") {
      if (!v.is_object()) return Fail(where, "not an object: " + v.dump());
      for (const auto& p : s["properties"]) {
        const std::string name = p.first.as<std::string>();
        const YAML::Node prop = p.second;
        if (!v.contains(name)) {
          const bool nullable = (prop["nullable"] && prop["nullable"].as<bool>());
          if (!nullable) Fail(where, "field '" + name + "' missing");
          continue;
        }
        Validate(v[name], prop, where + "." + name);
      }
      if (s["additionalProperties"]) {
        for (const auto& [k, item] : v.items()) {
          Validate(item, s["additionalProperties"], where + "[" + k + "]");
        }
      }
    } else if (type == "array") {
      if (!v.is_array()) return Fail(where, "not an array");
      for (size_t i = 0; i < v.size(); ++i) {
        Validate(v[i], s["items"], where + "[" + std::to_string(i) + "]");
      }
    } else if (type == "integer") {
      if (!v.is_number_integer()) Fail(where, "not an integer: " + v.dump());
    } else if (type == "number") {
      if (!v.is_number()) Fail(where, "not a number: " + v.dump());
    } else if (type == "boolean") {
      if (!v.is_boolean()) Fail(where, "not a boolean: " + v.dump());
    } else if (type == "string") {
      if (!v.is_string()) return Fail(where, "not a string: " + v.dump());
      const std::string text = v.get<std::string>();
      if (s["pattern"] && !std::regex_match(text, std::regex(s["pattern"].as<std::string>()))) {
        Fail(where, "'" + text + "' does not match " + s["pattern"].as<std::string>());
      }
      if (s["enum"]) {
        bool found = false;
        for (const auto& e : s["enum"]) {
          found = found || strcasecmp(e.as<std::string>().c_str(), text.c_str()) == 0;
        }
        if (!found) Fail(where, "'" + text + "' is none of the enum's values");
      }
    }
  }

  YAML::Node spec_;
  std::vector<std::string> errors_;
};

// What a client typed after Flink's docs reads from /jobs/<id>/checkpoints.
struct FlinkCompletedCheckpoint {
  int64_t id, trigger_timestamp, checkpointed_size, state_size, end_to_end_duration;
  int32_t num_subtasks, num_acknowledged_subtasks;
  std::string checkpoint_type, external_path;
  std::map<std::string, int32_t> acknowledged_per_vertex;
};
struct FlinkFailedCheckpoint {
  int64_t id, failure_timestamp;
  std::string failure_message;
};
struct FlinkPendingCheckpoint {
  int64_t id;
};
using FlinkCheckpoint =
    std::variant<FlinkCompletedCheckpoint, FlinkFailedCheckpoint, FlinkPendingCheckpoint>;

FlinkCheckpoint DecodeCheckpoint(const json& j) {
  const std::string cls = j.at("className").get<std::string>();
  if (cls == "failed") {
    return FlinkFailedCheckpoint{j.at("id").get<int64_t>(),
                                 j.at("failure_timestamp").get<int64_t>(),
                                 j.at("failure_message").get<std::string>()};
  }
  if (cls == "in_progress") return FlinkPendingCheckpoint{j.at("id").get<int64_t>()};
  if (cls != "completed") throw std::runtime_error("unknown className " + cls);
  FlinkCompletedCheckpoint c{j.at("id").get<int64_t>(),
                             j.at("trigger_timestamp").get<int64_t>(),
                             j.at("checkpointed_size").get<int64_t>(),
                             j.at("state_size").get<int64_t>(),
                             j.at("end_to_end_duration").get<int64_t>(),
                             j.at("num_subtasks").get<int32_t>(),
                             j.at("num_acknowledged_subtasks").get<int32_t>(),
                             j.at("checkpoint_type").get<std::string>(),
                             j.at("external_path").get<std::string>(),
                             {}};
  for (const auto& [vertex, task] : j.at("tasks").items()) {
    c.acknowledged_per_vertex[vertex] = task.at("num_acknowledged_subtasks").get<int32_t>();
  }
  return c;
}

class RestSchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spec_ = YAML::LoadFile(std::string(WEIR_SOURCE_DIR) + "/tests/web/testdata/flink_rest_v1.yaml");
    Configuration c;
    ASSERT_TRUE(c.Set(config::kParallelism, "2").ok());
    ASSERT_TRUE(c.Set(config::kIncremental, "true").ok());
    ASSERT_TRUE(c.Set(config::kInterval, "100ms").ok());
    ASSERT_TRUE(c.Set(config::kCheckpointsDir, tmp_.Sub("checkpoints")).ok());
    ASSERT_TRUE(c.Set(config::kSavepointsDir, tmp_.Sub("savepoints")).ok());
    ASSERT_TRUE(c.Set(config::kLocalDir, tmp_.Sub("local")).ok());
    ASSERT_TRUE(c.Set("restart-strategy.type", "fixed-delay").ok());
    ASSERT_TRUE(c.Set("restart-strategy.fixed-delay.delay", "10ms").ok());
    // One failure after a while: the exception history has an entry, the job restarts.
    auto job = JobRuntime::Create(
        testing::AggregateJob(60000, 500, 20000, tmp_.Sub("out"), &failures_, nullptr), c);
    ASSERT_TRUE(job.ok()) << job.status().ToString();
    job_ = std::move(job).value();
    // Control on, as on loopback by default: the test takes a savepoint.
    server_ = std::make_unique<web::RestServer>(*job_, web::RestControlOptions{true, "", ""});
    ASSERT_TRUE(server_->Start("127.0.0.1", 0).ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    runner_ = std::thread([this] { result_ = job_->Run(); });
  }
  void TearDown() override {
    job_->Cancel();
    if (runner_.joinable()) runner_.join();
    server_->Stop();
  }

  json Get(const std::string& path, int expected_status = 200) {
    auto res = client_->Get(path);
    if (!res) return json();
    EXPECT_EQ(res->status, expected_status) << path << ": " << res->body;
    return json::parse(res->body, nullptr, false);
  }
  void ExpectConforms(const std::string& path, const std::string& spec_path,
                      const std::string& method = "get", const std::string& status = "200") {
    SchemaChecker checker(spec_);
    const YAML::Node schema = checker.ResponseSchema(spec_path, method, status);
    ASSERT_TRUE(schema) << spec_path << " is not in the excerpt";
    const json body = Get(path, std::stoi(status));
    for (const auto& e : checker.Check(body, schema)) ADD_FAILURE() << path << " " << e;
  }

  YAML::Node spec_;
  testing::FailureInjector failures_{{30000}};
  testing::TempDir tmp_;
  std::unique_ptr<JobRuntime> job_;
  std::unique_ptr<web::RestServer> server_;
  std::unique_ptr<httplib::Client> client_;
  std::thread runner_;
  JobResult result_;
};

TEST_F(RestSchemaTest, EveryEndpointAnswersAsFlinksDescriptionSays) {
  const std::string id = job_->job_id();
  // A restart (the injected failure), then two more completed checkpoints after it.
  const auto completed = [&] {
    const json cp = Get("/jobs/" + id + "/checkpoints");
    return cp.is_object() ? cp["counts"]["completed"].get<int>() : 0;
  };
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        const JobStatusView st = job_->status();
        return st.restarts >= 1 && st.state == JobState::kRunning;
      },
      std::chrono::seconds(60)));
  const int before = completed();
  ASSERT_TRUE(
      testing::WaitFor([&] { return completed() >= before + 2; }, std::chrono::seconds(60)));
  // A savepoint: latest.savepoint and the status of its request.
  auto trigger = client_->Post("/jobs/" + id + "/savepoints", "{}", "application/json");
  ASSERT_TRUE(trigger);
  ASSERT_EQ(trigger->status, 202) << trigger->body;
  const std::string request = json::parse(trigger->body)["request-id"];
  ASSERT_TRUE(testing::WaitFor(
      [&] { return Get("/jobs/" + id + "/savepoints/" + request)["status"]["id"] == "COMPLETED"; },
      std::chrono::seconds(60)));

  // A manual checkpoint (Flink's POST /jobs/<id>/checkpoints) and the status of its request.
  auto manual = client_->Post("/jobs/" + id + "/checkpoints", "{}", "application/json");
  ASSERT_TRUE(manual);
  ASSERT_EQ(manual->status, 202) << manual->body;
  const std::string manual_request = json::parse(manual->body)["request-id"];
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return Get("/jobs/" + id + "/checkpoints/" + manual_request)["status"]["id"] == "COMPLETED";
      },
      std::chrono::seconds(60)));
  ExpectConforms("/jobs/" + id + "/checkpoints/" + manual_request,
                 "/jobs/{jobid}/checkpoints/{triggerid}");

  ExpectConforms("/config", "/config");
  ExpectConforms("/overview", "/overview");
  ExpectConforms("/jobs", "/jobs");
  ExpectConforms("/jobs/overview", "/jobs/overview");
  ExpectConforms("/jobs/" + id, "/jobs/{jobid}");
  ExpectConforms("/jobs/" + id + "/exceptions", "/jobs/{jobid}/exceptions");
  ExpectConforms("/jobs/" + id + "/checkpoints", "/jobs/{jobid}/checkpoints");
  ExpectConforms("/jobs/" + id + "/checkpoints/config", "/jobs/{jobid}/checkpoints/config");
  ExpectConforms("/jobs/" + id + "/savepoints/" + request, "/jobs/{jobid}/savepoints/{triggerid}");
  const json job = Get("/jobs/" + id);
  const json cp = Get("/jobs/" + id + "/checkpoints");
  const std::string n = std::to_string(cp["latest"]["completed"]["id"].get<uint64_t>());
  ExpectConforms("/jobs/" + id + "/checkpoints/details/" + n,
                 "/jobs/{jobid}/checkpoints/details/{checkpointid}");
  for (const auto& v : job["vertices"]) {
    const std::string vid = v["id"];
    ExpectConforms("/jobs/" + id + "/vertices/" + vid, "/jobs/{jobid}/vertices/{vertexid}");
    ExpectConforms("/jobs/" + id + "/checkpoints/details/" + n + "/subtasks/" + vid,
                   "/jobs/{jobid}/checkpoints/details/{checkpointid}/subtasks/{vertexid}");
  }
  ExpectConforms("/jobs/" + id + "/nope", "errors", "get", "404");
  ExpectConforms("/jobs/00000000000000000000000000000000", "errors", "get", "404");

  // What the answers say, read as Flink's types.
  ASSERT_FALSE(cp["latest"]["savepoint"].is_null());
  EXPECT_EQ(cp["latest"]["savepoint"]["checkpoint_type"], "SAVEPOINT");
  const auto latest =
      std::get<FlinkCompletedCheckpoint>(DecodeCheckpoint(cp["latest"]["completed"]));
  EXPECT_EQ(latest.checkpoint_type, "CHECKPOINT");
  EXPECT_EQ(latest.num_subtasks, 4);
  int32_t acknowledged = 0;
  for (const auto& [vertex, n_acked] : latest.acknowledged_per_vertex) acknowledged += n_acked;
  EXPECT_EQ(acknowledged, latest.num_acknowledged_subtasks);
  EXPECT_EQ(latest.acknowledged_per_vertex.size(), job["vertices"].size());
  for (const auto& h : cp["history"]) (void)DecodeCheckpoint(h);
  // Durations are milliseconds: a subtask's acknowledgement follows its start delay, alignment,
  // synchronous and asynchronous parts.
  const json sub = Get("/jobs/" + id + "/checkpoints/details/" + n + "/subtasks/" +
                       job["vertices"][1]["id"].get<std::string>());
  for (const auto& s : sub["subtasks"]) {
    ASSERT_EQ(s["className"], "completed");
    EXPECT_LE(s["start_delay"].get<int64_t>() + s["checkpoint"]["sync"].get<int64_t>() +
                  s["checkpoint"]["async"].get<int64_t>(),
              s["end_to_end_duration"].get<int64_t>() + 2)  // rounding of three parts
        << s.dump();
  }
  const json exceptions = Get("/jobs/" + id + "/exceptions");
  ASSERT_EQ(exceptions["exceptionHistory"]["entries"].size(), 1u);
  EXPECT_NE(exceptions["exceptionHistory"]["entries"][0]["stacktrace"].get<std::string>().find(
                "injected"),
            std::string::npos)
      << exceptions.dump();
  const json overview = Get("/jobs/overview");
  EXPECT_EQ(overview["jobs"][0]["jid"], id);
  EXPECT_EQ(overview["jobs"][0]["tasks"]["total"], 4);
}

TEST(SchemaCheckerTest, FindsMissingFieldsWrongTypesAndUnknownSubtypes) {
  SchemaChecker checker(
      YAML::LoadFile(std::string(WEIR_SOURCE_DIR) + "/tests/web/testdata/flink_rest_v1.yaml"));
  const YAML::Node schema = checker.ResponseSchema("/jobs/{jobid}/checkpoints", "get", "200");
  const json empty = json::object();
  EXPECT_GE(checker.Check(empty, schema).size(), 4u);  // counts, summary, latest, history
  json counts = {{"restored", 0}, {"total", "1"}, {"in_progress", 0}, {"completed", 1.5}};
  const YAML::Node counts_schema = YAML::Load("{$ref: '#/components/schemas/Counts'}");
  const auto errors = checker.Check(counts, counts_schema);
  ASSERT_EQ(errors.size(), 3u);  // total a string, completed a double, failed missing
  json history_entry = {{"className", "exploded"}, {"id", 1}};
  EXPECT_EQ(
      checker
          .Check(history_entry, YAML::Load("{$ref: '#/components/schemas/CheckpointStatistics'}"))
          .size(),
      1u);
  EXPECT_EQ(checker.Check(json("ABC"), YAML::Load("{$ref: '#/components/schemas/JobID'}")).size(),
            1u);
}

TEST_F(RestSchemaTest, WrongMethodsAnswer405WithErrors) {
  const std::string id = job_->job_id();
  for (const std::string& path : std::vector<std::string>{"/config", "/overview", "/jobs/overview",
                                                          "/jobs/" + id + "/exceptions"}) {
    auto res = client_->Delete(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 405) << path;
    EXPECT_EQ(res->get_header_value("Allow"), "GET") << path;
    const json body = json::parse(res->body, nullptr, false);
    ASSERT_TRUE(body.is_object() && body["errors"].is_array()) << path << ": " << res->body;
  }
}

}  // namespace
}  // namespace weir
