// RestServer: the REST API, the dashboard and the Prometheus metrics a running job serves over
// HTTP (cpp-httplib). Reading, in Flink's rest_v1 shapes (web/rest_json.h):
//   GET /                                       the dashboard (web/dashboard.html, no build step)
//   GET /config, /overview                      the dashboard's settings, the "cluster"
//   GET /jobs, /jobs/overview                   the job
//   GET /jobs/<id>                              its state, vertices, parallelism and plan
//   GET /jobs/<id>/vertices/<vid>               one vertex's subtasks
//   GET /jobs/<id>/exceptions                   the failures that restarted or ended it
//   GET /jobs/<id>/checkpoints                  counts, summary, latest, history
//   GET /jobs/<id>/checkpoints/details/<n>      one checkpoint, per vertex (and per subtask)
//   GET …/checkpoints/details/<n>/subtasks/<vid> one vertex's subtasks in that checkpoint
//   GET /jobs/<id>/checkpoints/config           the checkpointing configuration
//   GET /jobs/<id>/checkpoints/storage          retained checkpoints' own and inherited bytes,
//                                               shared/ files, directory size vs live state
//   GET /metrics                                Prometheus text format (docs/metrics.md)
// Job control (web/rest_job_control.h: savepoints, stop, manual checkpoints, cancel), only as
// its RestControlOptions allow. An unknown job, checkpoint or path answers 404 with
// {"errors": [...]}; a method a known path does not serve, 405 with its Allow header.
//
// Lifecycle: Start() binds and serves on its own thread; Stop() (or the destructor) ends it. The
// job must outlive the server. A port another process listens on is refused (never shared);
// connections are served by kWorkers threads with 1 s read, write and keep-alive timeouts, so
// idle or trickling clients cannot hold the API for long; a non-loopback address is logged as a
// warning.
#pragma once

#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "runtime/job_runtime.h"
#include "web/rest_control.h"
#include "web/rest_job_control.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace weir::web {

class RestServer {
 public:
  static constexpr int kWorkers = 64;
  static constexpr int kListenBacklog = 128;
  // Without control options the API is read-only (every control request answers 403).
  explicit RestServer(JobRuntime& job, RestControlOptions control = {});
  ~RestServer();
  RestServer(const RestServer&) = delete;
  RestServer& operator=(const RestServer&) = delete;

  // Binds `address`:`port` (0: a free port) and starts serving.
  Status Start(const std::string& address, int port);
  void Stop();
  int port() const { return port_; }
  // After the job stopped with a savepoint: serves on until a client was told that `request`
  // settled (the one that stopped it learns the savepoint's path), at most `timeout_ms`.
  void WaitForSettledRequestServed(const std::string& request, int64_t timeout_ms);

 private:
  void Routes();
  // The checkpoint numbered by the request's second match, from the statistics' history;
  // answers 404 and returns nullopt when it is not there.
  std::optional<CheckpointStats> FindCheckpoint(const httplib::Request& req,
                                                httplib::Response& res);

  JobRuntime& job_;
  RestControlOptions control_;
  std::shared_ptr<SettledRequestsServed> settled_served_ =
      std::make_shared<SettledRequestsServed>();
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  int listen_socket_ = -1;  // httplib's, seen when it is created (to raise its backlog)
};

// Answers `body` as application/json with `status`.
void SendJson(httplib::Response& res, const nlohmann::json& body, int status = 200);
// Shared by the servers of web/: SO_REUSEADDR without SO_REUSEPORT, kWorkers threads, short
// timeouts, a JSON 404 for unknown paths; `*listen_socket` is set to the listening socket when it
// is created.
void ConfigureHttpServer(httplib::Server& server, int* listen_socket);
// Binds `address`:`port` (0: a free port, stored in `*bound_port`), raises the listen backlog
// and serves on `*thread`; returns once the server runs.
Status ServeHttp(httplib::Server& server, const int& listen_socket, const std::string& address,
                 int port, int* bound_port, std::thread* thread);

}  // namespace weir::web
