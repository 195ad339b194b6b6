// RestServer: the REST API, the dashboard and the Prometheus metrics a running job serves over
// HTTP (cpp-httplib), read-only:
//   GET /                                       the dashboard (web/dashboard.html, no build step)
//   GET /jobs                                   the job
//   GET /jobs/<id>                              its state, operators and parallelism
//   GET /jobs/<id>/checkpoints                  counts, summary, latest, history
//   GET /jobs/<id>/checkpoints/details/<n>      one checkpoint, per subtask
//   GET /jobs/<id>/checkpoints/config           the checkpointing configuration
//   GET /jobs/<id>/checkpoints/storage          retained checkpoints' own and inherited bytes,
//                                               shared/ files, directory size vs live state
//   GET /metrics                                Prometheus text format (docs/metrics.md)
// An unknown job, checkpoint or path answers 404 with {"errors": [...]}.
//
// Lifecycle: Start() binds and serves on its own thread; Stop() (or the destructor) ends it. The
// job must outlive the server. A port another process listens on is refused (never shared);
// connections are served by kWorkers threads with 1 s read, write and keep-alive timeouts, so
// idle or trickling clients cannot hold the API for long; a non-loopback address is logged as a
// warning.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "runtime/job_runtime.h"

namespace httplib {
class Server;
}

namespace weir::web {

class RestServer {
 public:
  static constexpr int kWorkers = 64;
  static constexpr int kListenBacklog = 128;
  explicit RestServer(JobRuntime& job);
  ~RestServer();
  RestServer(const RestServer&) = delete;
  RestServer& operator=(const RestServer&) = delete;

  // Binds `address`:`port` (0: a free port) and starts serving.
  Status Start(const std::string& address, int port);
  void Stop();
  int port() const { return port_; }

 private:
  void Routes();

  JobRuntime& job_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  int listen_socket_ = -1;  // httplib's, seen when it is created (to raise its backlog)
};

}  // namespace weir::web
