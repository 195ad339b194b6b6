#include "web/rest_job_control.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "web/rest_json.h"

namespace weir::web {
namespace {

using json = nlohmann::json;

void Send(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void SendError(httplib::Response& res, int status, const std::string& message) {
  Send(res, status, ErrorJson(message));
}

// 400 for what the request got wrong, 409 for what the job's state refuses.
void SendRefusal(httplib::Response& res, const Status& s) {
  SendError(res, s.code() == StatusCode::kFailedPrecondition ? 409 : 400, s.message());
}

// Whether a mutating request may act; answers the refusal otherwise.
bool Authorized(const RestControlOptions& control, const httplib::Request& req,
                httplib::Response& res) {
  if (!control.enabled) {
    SendError(res, 403, control.disabled_reason);
    return false;
  }
  if (control.token.empty()) return true;
  const std::string header = req.get_header_value("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size() || header.compare(0, kBearer.size(), kBearer) != 0 ||
      !ConstantTimeEquals(std::string_view(header).substr(kBearer.size()), control.token)) {
    res.set_header("WWW-Authenticate", "Bearer realm=\"weir\"");
    SendError(res, 401,
              header.empty() ? "job control needs Authorization: Bearer <token> "
                               "(rest.auth.token-file)"
                             : "the bearer token is not the job's (rest.auth.token-file)");
    return false;
  }
  return true;
}

bool KnownJob(JobRuntime& job, const httplib::Request& req, httplib::Response& res) {
  if (req.matches[1] == job.job_id()) return true;
  SendError(res, 404, "Job " + std::string(req.matches[1]) + " not found");
  return false;
}

// The request's JSON object (an empty body is an empty object); 400 otherwise.
std::optional<json> Body(const httplib::Request& req, httplib::Response& res) {
  if (req.body.empty()) return json::object();
  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    SendError(res, 400, "the request body is not a JSON object");
    return std::nullopt;
  }
  return body;
}

// Field `name` of `body` as T, if present; 400 naming it when it has another type.
template <typename T>
bool Field(const json& body, const char* name, T* out, httplib::Response& res) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return true;
  const bool ok = std::is_same_v<T, bool> ? it->is_boolean() : it->is_string();
  if (!ok) {
    SendError(res, 400,
              std::string("field '") + name + "' must be " +
                  (std::is_same_v<T, bool> ? "true or false" : "a string"));
    return false;
  }
  *out = it->get<T>();
  return true;
}

bool FormatOf(const std::string& name, SavepointFormat* format, httplib::Response& res) {
  if (name.empty() || SameChoiceName(name, "CANONICAL")) {
    *format = SavepointFormat::kCanonical;
  } else if (SameChoiceName(name, "NATIVE")) {
    *format = SavepointFormat::kNative;
  } else {
    SendError(res, 400, "formatType '" + name + "' is not CANONICAL or NATIVE");
    return false;
  }
  return true;
}

void Accepted(httplib::Response& res, const Result<std::string>& request) {
  if (!request.ok()) return SendRefusal(res, request.status());
  Send(res, 202, {{"request-id", *request}});
}

// Flink's AsynchronousOperationResult.
json OperationJson(const ControlRequestStatus& s) {
  using State = ControlRequestStatus::State;
  json j = {{"status", {{"id", s.state == State::kInProgress ? "IN_PROGRESS" : "COMPLETED"}}},
            {"operation", nullptr}};
  if (s.state == State::kCompleted) {
    j["operation"] =
        s.savepoint ? json{{"location", s.location}}
                    : json{{"checkpointId", s.checkpoint_id.value_or(0)}, {"location", s.location}};
  } else if (s.state == State::kFailed) {
    j["operation"] = {{"failure-cause", {{"class", "weir.Status"}, {"stack-trace", s.failure}}}};
  }
  return j;
}

}  // namespace

void SettledRequestsServed::Add(const std::string& request) {
  std::lock_guard<std::mutex> lock(mu_);
  served_.insert(request);
  cv_.notify_all();
}

bool SettledRequestsServed::WaitFor(const std::string& request, int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                      [&] { return served_.count(request) != 0; });
}

void AddJobControlRoutes(httplib::Server& s, JobRuntime& job, const RestControlOptions& control,
                         std::shared_ptr<SettledRequestsServed> settled_served) {
  s.Post(R"(/jobs/([^/]+)/savepoints)", [&job, control](const httplib::Request& req,
                                                        httplib::Response& res) {
    if (!KnownJob(job, req, res) || !Authorized(control, req, res)) return;
    const auto body = Body(req, res);
    if (!body) return;
    std::string target, format;
    bool cancel = false;
    SavepointRequest request;
    if (!Field(*body, "target-directory", &target, res) ||
        !Field(*body, "formatType", &format, res) || !Field(*body, "cancel-job", &cancel, res) ||
        !FormatOf(format, &request.format, res)) {
      return;
    }
    request.target_directory = target;
    request.then = cancel ? SavepointRequest::Then::kCancel : SavepointRequest::Then::kContinue;
    Accepted(res, job.TriggerSavepoint(std::move(request)));
  });
  s.Post(R"(/jobs/([^/]+)/stop)", [&job, control](const httplib::Request& req,
                                                  httplib::Response& res) {
    if (!KnownJob(job, req, res) || !Authorized(control, req, res)) return;
    const auto body = Body(req, res);
    if (!body) return;
    std::string target, format;
    bool drain = false;
    SavepointRequest request;
    if (!Field(*body, "targetDirectory", &target, res) || !Field(*body, "drain", &drain, res) ||
        !Field(*body, "formatType", &format, res) || !FormatOf(format, &request.format, res)) {
      return;
    }
    request.target_directory = target;
    request.then = drain ? SavepointRequest::Then::kStopAndDrain : SavepointRequest::Then::kStop;
    Accepted(res, job.TriggerSavepoint(std::move(request)));
  });
  s.Post(R"(/jobs/([^/]+)/checkpoints)",
         [&job, control](const httplib::Request& req, httplib::Response& res) {
           if (!KnownJob(job, req, res) || !Authorized(control, req, res)) return;
           const auto body = Body(req, res);
           if (!body) return;
           std::string type;
           if (!Field(*body, "checkpointType", &type, res)) return;
           CheckpointRequestType t = CheckpointRequestType::kConfigured;
           if (SameChoiceName(type, "FULL")) {
             t = CheckpointRequestType::kFull;
           } else if (SameChoiceName(type, "INCREMENTAL")) {
             t = CheckpointRequestType::kIncremental;
           } else if (!type.empty() && !SameChoiceName(type, "CONFIGURED")) {
             return SendError(
                 res, 400, "checkpointType '" + type + "' is not FULL, INCREMENTAL or CONFIGURED");
           }
           Accepted(res, job.TriggerCheckpoint(t));
         });
  const auto status_of = [&job, settled_served](bool savepoint) {
    return [&job, savepoint, settled_served](const httplib::Request& req, httplib::Response& res) {
      if (!KnownJob(job, req, res)) return;
      const auto s = job.RequestStatus(req.matches[2]);
      if (!s || s->savepoint != savepoint) {
        return SendError(res, 404,
                         std::string(savepoint ? "Savepoint" : "Checkpoint") + " request " +
                             std::string(req.matches[2]) + " not found");
      }
      Send(res, 200, OperationJson(*s));
      if (s->state != ControlRequestStatus::State::kInProgress) {
        settled_served->Add(req.matches[2]);
      }
    };
  };
  s.Get(R"(/jobs/([^/]+)/savepoints/([0-9a-f]{32}))", status_of(true));
  s.Get(R"(/jobs/([^/]+)/checkpoints/([0-9a-f]{32}))", status_of(false));
  s.Patch(R"(/jobs/([^/]+))", [&job, control](const httplib::Request& req, httplib::Response& res) {
    if (!KnownJob(job, req, res) || !Authorized(control, req, res)) return;
    const std::string mode = req.has_param("mode") ? req.get_param_value("mode") : "cancel";
    if (mode != "cancel") {
      return SendError(res, 400, "mode '" + mode + "' is not supported (only mode=cancel)");
    }
    job.Cancel();
    Send(res, 202, json::object());
  });
}

}  // namespace weir::web
