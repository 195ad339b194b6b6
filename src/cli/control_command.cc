#include "cli/control_command.h"

#include <httplib.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/fail.h"
#include "web/rest_control.h"
#include "web/web_options.h"
#include "weir/config.h"

namespace weir::cli {
namespace {

using json = nlohmann::json;

struct ControlOptions {
  std::string rest;
  std::string config_file;
  std::vector<std::string> assignments;
  std::string token_file;
  std::string job_id;
  double timeout_s = 600;
  // savepoint / stop
  std::string type = "canonical";
  std::string target;
  bool drain = false;
  // checkpoint
  bool full = false;
};

// The REST API of one job, with its token.
struct Endpoint {
  std::string url;
  std::string token;
};

Result<Endpoint> EndpointOf(const ControlOptions& o) {
  Configuration config;
  if (!o.config_file.empty()) WEIR_RETURN_IF_ERROR(config.LoadYamlFile(o.config_file));
  for (const auto& a : o.assignments) WEIR_RETURN_IF_ERROR(config.SetFromAssignment(a));
  Endpoint e;
  e.url = o.rest;
  if (e.url.empty()) {
    std::string host = config.Get(config::kRestAddress);
    if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
    if (host == "::" || host == "::1") host = "[::1]";
    e.url = "http://" + host + ":" + std::to_string(config.Get(config::kRestPort));
  }
  while (!e.url.empty() && e.url.back() == '/') e.url.pop_back();
  if (e.url.rfind("http://", 0) != 0 && e.url.rfind("https://", 0) != 0) {
    return Status::InvalidArgument("--rest '" + e.url + "' is not an http:// or https:// URL");
  }
  const std::string token_file =
      o.token_file.empty() ? config.Get(config::kRestTokenFile) : o.token_file;
  if (!token_file.empty()) {
    WEIR_ASSIGN_OR_RETURN(e.token, web::ReadTokenFile(token_file));
  }
  return e;
}

struct Response {
  int status = 0;
  json body;
};

Result<Response> Call(const Endpoint& e, const std::string& method, const std::string& path,
                      const json& body = nullptr) {
  httplib::Client client(e.url);
  client.set_connection_timeout(std::chrono::seconds(5));
  client.set_read_timeout(std::chrono::seconds(30));
  httplib::Headers headers;
  if (!e.token.empty()) headers.emplace("Authorization", "Bearer " + e.token);
  const std::string payload = body.is_null() ? "" : body.dump();
  httplib::Result r = method == "GET"    ? client.Get(path, headers)
                      : method == "POST" ? client.Post(path, headers, payload, "application/json")
                                         : client.Patch(path, headers, payload, "application/json");
  if (!r) {
    return Status::IOError("cannot reach the job's REST API at " + e.url + " (" +
                           httplib::to_string(r.error()) + "): is the job running? (--rest URL)");
  }
  Response out;
  out.status = r->status;
  out.body = json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  if (out.status >= 400) {
    std::string message = "HTTP " + std::to_string(out.status);
    if (out.body.is_object() && out.body.contains("errors") && out.body["errors"].is_array() &&
        !out.body["errors"].empty() && out.body["errors"][0].is_string()) {
      message += ": " + out.body["errors"][0].get<std::string>();
    }
    return Status::FailedPrecondition(message);
  }
  if (out.body.is_discarded()) return Status::Corruption("the REST API's answer is not JSON");
  return out;
}

// Polls a request's status until it completed; the operation's result.
Result<json> AwaitOperation(const Endpoint& e, const std::string& path, double timeout_s) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(int64_t(timeout_s * 1000));
  while (true) {
    WEIR_ASSIGN_OR_RETURN(Response r, Call(e, "GET", path));
    const json& status = r.body["status"];
    if (status.is_object() && status.value("id", "") == "COMPLETED") {
      const json& op = r.body["operation"];
      if (op.is_object() && op.contains("failure-cause")) {
        return Status::Aborted(op["failure-cause"].value("stack-trace", "failed"));
      }
      return op;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Aborted("not complete after " + std::to_string(int(timeout_s)) +
                             " s (it may still complete: GET " + e.url + path + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Result<std::string> FormatType(const std::string& type) {
  if (type == "canonical" || type == "CANONICAL") return std::string("CANONICAL");
  if (type == "native" || type == "NATIVE") return std::string("NATIVE");
  return Status::InvalidArgument("--type '" + type + "' is not canonical or native");
}

int RunSavepoint(const ControlOptions& o, bool stop) {
  const std::string command = stop ? "stop" : "savepoint";
  auto e = EndpointOf(o);
  if (!e.ok()) return Fail(command, e.status());
  auto format = FormatType(o.type);
  if (!format.ok()) return Fail(command, format.status());
  json body = stop ? json{{"drain", o.drain}, {"formatType", *format}}
                   : json{{"formatType", *format}, {"cancel-job", false}};
  if (!o.target.empty()) body[stop ? "targetDirectory" : "target-directory"] = o.target;
  auto accepted = Call(*e, "POST", "/jobs/" + o.job_id + (stop ? "/stop" : "/savepoints"), body);
  if (!accepted.ok()) return Fail(command, accepted.status());
  const std::string request = accepted->body.value("request-id", "");
  if (request.empty()) return Fail(command, Status::Corruption("no request-id in the answer"));
  auto done = AwaitOperation(*e, "/jobs/" + o.job_id + "/savepoints/" + request, o.timeout_s);
  if (!done.ok()) return Fail(command, done.status());
  std::cout << done->value("location", "") << "\n";
  return 0;
}

int RunCheckpoint(const ControlOptions& o) {
  auto e = EndpointOf(o);
  if (!e.ok()) return Fail("checkpoint", e.status());
  auto accepted = Call(*e, "POST", "/jobs/" + o.job_id + "/checkpoints",
                       {{"checkpointType", o.full ? "FULL" : "CONFIGURED"}});
  if (!accepted.ok()) return Fail("checkpoint", accepted.status());
  const std::string request = accepted->body.value("request-id", "");
  auto done = AwaitOperation(*e, "/jobs/" + o.job_id + "/checkpoints/" + request, o.timeout_s);
  if (!done.ok()) return Fail("checkpoint", done.status());
  std::cout << "checkpoint " << done->value("checkpointId", uint64_t{0}) << " completed"
            << (o.full ? " (full)" : "") << ": " << done->value("location", "") << "\n";
  return 0;
}

int RunCancel(const ControlOptions& o) {
  auto e = EndpointOf(o);
  if (!e.ok()) return Fail("cancel", e.status());
  auto r = Call(*e, "PATCH", "/jobs/" + o.job_id + "?mode=cancel");
  if (!r.ok()) return Fail("cancel", r.status());
  std::cout << "job " << o.job_id << " is being cancelled\n";
  return 0;
}

CLI::App* AddCommon(CLI::App& app, const std::string& name, const std::string& description,
                    ControlOptions& o) {
  CLI::App* c = app.add_subcommand(name, description);
  c->add_option("--rest", o.rest,
                "the job's REST API (default: rest.* keys, else "
                "http://127.0.0.1:8081)");
  c->add_option("--config", o.config_file, "YAML configuration file (its rest.* keys)");
  c->add_option("-D", o.assignments, "configuration key=value (repeatable)")
      ->allow_extra_args(false);
  c->add_option("--token-file", o.token_file,
                "file with the bearer token (default: rest.auth.token-file)");
  return c;
}

}  // namespace

void AddControlCommands(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ControlOptions>();
  CLI::App* savepoint =
      AddCommon(app, "savepoint", "take a savepoint of a running job; prints its directory", *o);
  savepoint->add_option("--type", o->type, "canonical (default) or native");
  savepoint->add_option("--timeout", o->timeout_s, "seconds to wait for it (default 600)");
  savepoint->add_option("job_id", o->job_id, "the job's id")->required();
  savepoint->add_option("target_dir", o->target,
                        "where the savepoint directory goes (default: state.savepoints.dir)");
  savepoint->callback([o, &exit_code] { exit_code = RunSavepoint(*o, false); });

  CLI::App* stop = AddCommon(
      app, "stop", "stop a running job with a savepoint; prints the savepoint's directory", *o);
  stop->add_option("-p,--savepoint-path,--savepointPath", o->target,
                   "where the savepoint directory goes (default: state.savepoints.dir)");
  stop->add_flag("-d,--drain", o->drain, "end the sources' input first: operators finish");
  stop->add_option("--type", o->type, "canonical (default) or native");
  stop->add_option("--timeout", o->timeout_s, "seconds to wait for it (default 600)");
  stop->add_option("job_id", o->job_id, "the job's id")->required();
  stop->callback([o, &exit_code] { exit_code = RunSavepoint(*o, true); });

  CLI::App* checkpoint = AddCommon(app, "checkpoint", "take a checkpoint of a running job now", *o);
  checkpoint->add_flag("--full", o->full, "a full checkpoint, also in an incremental job");
  checkpoint->add_option("--timeout", o->timeout_s, "seconds to wait for it (default 600)");
  checkpoint->add_option("job_id", o->job_id, "the job's id")->required();
  checkpoint->callback([o, &exit_code] { exit_code = RunCheckpoint(*o); });

  CLI::App* cancel = AddCommon(app, "cancel", "cancel a running job", *o);
  cancel->add_option("job_id", o->job_id, "the job's id")->required();
  cancel->callback([o, &exit_code] { exit_code = RunCancel(*o); });
}

}  // namespace weir::cli
