#include "web/rest_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <set>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "web/dashboard.h"
#include "web/metrics.h"
#include "web/rest_job_control.h"
#include "web/rest_json.h"

namespace weir::web {

void SendJson(httplib::Response& res, const nlohmann::json& body, int status) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void ConfigureHttpServer(httplib::Server& server, int* listen_socket) {
  // No SO_REUSEPORT (httplib's default): a second job given the same port must fail to bind,
  // not share the port and split the requests. SO_REUSEADDR still lets a restarted job bind a
  // port whose old connections linger in TIME_WAIT.
  server.set_socket_options([listen_socket](int sock) {
    int yes = 1;
    (void)setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    *listen_socket = sock;
  });
  // Idle or trickling connections each hold a worker: enough workers that a few dozen of them do
  // not starve a request, and short timeouts so that each lets go soon.
  server.new_task_queue = [] { return new httplib::ThreadPool(RestServer::kWorkers); };
  server.set_read_timeout(std::chrono::seconds(1));
  server.set_write_timeout(std::chrono::seconds(1));
  server.set_keep_alive_timeout(1);
  server.set_keep_alive_max_count(100);
  // An unknown path answers 404 with {"errors": [...]}, like every other error.
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.status == 404 && res.body.empty()) {
      SendJson(res, ErrorJson("Not found: " + req.path), 404);
    }
  });
}

RestServer::RestServer(JobRuntime& job, RestControlOptions control)
    : job_(job), control_(std::move(control)), server_(std::make_unique<httplib::Server>()) {
  if (!control_.enabled && control_.disabled_reason.empty()) {
    control_.disabled_reason = "this REST server is read-only";
  }
  ConfigureHttpServer(*server_, &listen_socket_);
  Routes();
}

RestServer::~RestServer() { Stop(); }

void RestServer::Routes() {
  httplib::Server& s = *server_;
  // Unknown job ids answer 404 on every /jobs/<id>/... route.
  const auto known = [this](const httplib::Request& req, httplib::Response& res) {
    if (req.matches[1] == job_.job_id()) return true;
    SendJson(res, ErrorJson("Job " + std::string(req.matches[1]) + " not found"), 404);
    return false;
  };
  s.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(DashboardHtml()), "text/html; charset=utf-8");
  });
  s.Get("/config", [](const httplib::Request&, httplib::Response& res) {
    SendJson(res, DashboardConfigJson(NowUnixMs()));
  });
  s.Get("/overview", [this](const httplib::Request&, httplib::Response& res) {
    SendJson(res, OverviewJson(job_));
  });
  s.Get("/jobs",
        [this](const httplib::Request&, httplib::Response& res) { SendJson(res, JobsJson(job_)); });
  // Before /jobs/<id>: "overview" is no job id.
  s.Get("/jobs/overview", [this](const httplib::Request&, httplib::Response& res) {
    SendJson(res, JobsOverviewJson(job_, NowUnixMs()));
  });
  s.Get(R"(/jobs/([^/]+))", [this, known](const httplib::Request& req, httplib::Response& res) {
    if (known(req, res)) SendJson(res, JobJson(job_, NowUnixMs()));
  });
  s.Get(R"(/jobs/([^/]+)/exceptions)",
        [this, known](const httplib::Request& req, httplib::Response& res) {
          if (known(req, res)) SendJson(res, ExceptionsJson(job_));
        });
  s.Get(R"(/jobs/([^/]+)/vertices/([^/]+))",
        [this, known](const httplib::Request& req, httplib::Response& res) {
          if (!known(req, res)) return;
          const int v = FindVertex(job_.plan(), req.matches[2]);
          if (v < 0) {
            SendJson(res, ErrorJson("Vertex " + std::string(req.matches[2]) + " not found"), 404);
            return;
          }
          SendJson(res, VertexJson(job_, static_cast<size_t>(v), NowUnixMs()));
        });
  s.Get(R"(/jobs/([^/]+)/vertices/([^/]+)/watermarks)",
        [this, known](const httplib::Request& req, httplib::Response& res) {
          if (!known(req, res)) return;
          const int v = FindVertex(job_.plan(), req.matches[2]);
          if (v < 0) {
            SendJson(res, ErrorJson("Vertex " + std::string(req.matches[2]) + " not found"), 404);
            return;
          }
          SendJson(res, VertexWatermarksJson(job_, static_cast<size_t>(v)));
        });
  s.Get(R"(/jobs/([^/]+)/checkpoints)",
        [this, known](const httplib::Request& req, httplib::Response& res) {
          if (known(req, res)) SendJson(res, CheckpointsJson(job_, NowUnixMs()));
        });
  s.Get(R"(/jobs/([^/]+)/checkpoints/config)",
        [this, known](const httplib::Request& req, httplib::Response& res) {
          if (known(req, res)) SendJson(res, CheckpointConfigJson(job_.config()));
        });
  s.Get(R"(/jobs/([^/]+)/checkpoints/storage)",
        [this, known](const httplib::Request& req, httplib::Response& res) {
          if (known(req, res)) SendJson(res, CheckpointStorageJson(job_));
        });
  s.Get(R"(/jobs/([^/]+)/checkpoints/details/([0-9]+))",
        [this, known](const httplib::Request& req, httplib::Response& res) {
          if (!known(req, res)) return;
          if (auto found = FindCheckpoint(req, res)) {
            SendJson(res, CheckpointDetailJson(job_, *found, NowUnixMs()));
          }
        });
  s.Get(R"(/jobs/([^/]+)/checkpoints/details/([0-9]+)/subtasks/([^/]+))",
        [this, known](const httplib::Request& req, httplib::Response& res) {
          if (!known(req, res)) return;
          auto found = FindCheckpoint(req, res);
          if (!found) return;
          const int v = FindVertex(job_.plan(), req.matches[3]);
          if (v < 0) {
            SendJson(res, ErrorJson("Vertex " + std::string(req.matches[3]) + " not found"), 404);
            return;
          }
          SendJson(res,
                   TaskCheckpointDetailJson(job_, *found, static_cast<size_t>(v), NowUnixMs()));
        });
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(PrometheusText(job_, NowUnixMs()), "text/plain; version=0.0.4");
  });
  AddJobControlRoutes(s, job_, control_, settled_served_);
  // Every other method on a known path: 405 with the methods it serves.
  struct Route {
    const char* pattern;
    std::set<std::string> methods;
  };
  const std::vector<Route> routes = {
      {"/", {"GET"}},
      {"/config", {"GET"}},
      {"/overview", {"GET"}},
      {"/jobs", {"GET"}},
      {"/jobs/overview", {"GET"}},
      {R"(/jobs/([^/]+))", {"GET", "PATCH"}},
      {R"(/jobs/([^/]+)/exceptions)", {"GET"}},
      {R"(/jobs/([^/]+)/vertices/([^/]+))", {"GET"}},
      {R"(/jobs/([^/]+)/checkpoints)", {"GET", "POST"}},
      {R"(/jobs/([^/]+)/checkpoints/config)", {"GET"}},
      {R"(/jobs/([^/]+)/checkpoints/storage)", {"GET"}},
      {R"(/jobs/([^/]+)/checkpoints/details/([0-9]+))", {"GET"}},
      {R"(/jobs/([^/]+)/checkpoints/details/([0-9]+)/subtasks/([^/]+))", {"GET"}},
      {R"(/jobs/([^/]+)/checkpoints/([0-9a-f]{32}))", {"GET"}},
      {R"(/jobs/([^/]+)/savepoints)", {"POST"}},
      {R"(/jobs/([^/]+)/savepoints/([0-9a-f]{32}))", {"GET"}},
      {R"(/jobs/([^/]+)/stop)", {"POST"}},
      {"/metrics", {"GET"}},
  };
  for (const Route& route : routes) {
    std::string allow;
    for (const auto& m : route.methods) allow += (allow.empty() ? "" : ", ") + m;
    const auto refuse = [allow](const httplib::Request& req, httplib::Response& res) {
      res.set_header("Allow", allow);
      SendJson(res,
               ErrorJson("method " + req.method + " is not allowed on " + req.path +
                         " (allowed: " + allow + ")"),
               405);
    };
    if (!route.methods.count("GET")) s.Get(route.pattern, refuse);
    if (!route.methods.count("POST")) s.Post(route.pattern, refuse);
    if (!route.methods.count("PATCH")) s.Patch(route.pattern, refuse);
    s.Put(route.pattern, refuse);
    s.Delete(route.pattern, refuse);
  }
}

std::optional<CheckpointStats> RestServer::FindCheckpoint(const httplib::Request& req,
                                                          httplib::Response& res) {
  const std::string n = req.matches[2];
  if (const auto stats = job_.checkpoint_stats()) {
    for (const auto& c : stats->history) {
      if (std::to_string(c.checkpoint_id) == n) return c;
    }
  }
  SendJson(res, ErrorJson("Checkpoint " + n + " not found in the job's history"), 404);
  return std::nullopt;
}

Status ServeHttp(httplib::Server& server, const int& listen_socket, const std::string& address,
                 int port, int* bound_port, std::thread* thread) {
  if (port == 0) {
    *bound_port = server.bind_to_any_port(address);
    if (*bound_port <= 0) return Status::IOError("REST API: cannot bind " + address);
  } else {
    if (!server.bind_to_port(address, port)) {
      return Status::IOError("REST API: cannot bind " + address + ":" + std::to_string(port) +
                             " (in use? set rest.port, 0 picks a free one)");
    }
    *bound_port = port;
  }
  // Debian's httplib is a compiled library that listens with a backlog of 5: a burst of clients
  // (or idle ones) would wait out SYN retransmissions. Linux lets a second listen() raise it.
  if (listen_socket >= 0) (void)::listen(listen_socket, RestServer::kListenBacklog);
  *thread = std::thread([&server] { server.listen_after_bind(); });
  // httplib's stop() does nothing before the server runs: a Stop() right after Start() (a job
  // that fails at once) would leave the thread in accept() forever. Return once it runs.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server.is_running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!server.is_running()) {
    return Status::IOError("REST API: the server on port " + std::to_string(*bound_port) +
                           " did not start");
  }
  return Status::OK();
}

Status RestServer::Start(const std::string& address, int port) {
  if (!IsLoopbackAddress(address)) {
    LogWarn("REST API bound to " + address + ": reachable from other machines; job control is " +
            (!control_.enabled ? "off" : "on, for requests with the bearer token"));
  }
  return ServeHttp(*server_, listen_socket_, address, port, &port_, &thread_);
}

void RestServer::WaitForSettledRequestServed(const std::string& request, int64_t timeout_ms) {
  if (thread_.joinable()) (void)settled_served_->WaitFor(request, timeout_ms);
}

void RestServer::Stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

}  // namespace weir::web
