// A nats-server with JetStream for tests: started on 127.0.0.1 with free ports and a store
// directory of the caller's, stopped by its PID (the destructor kills it). Restart() keeps the
// ports and the store, as a restarted production server would.
#pragma once

#include <sys/types.h>

#include <string>

#include "weir/status.h"

namespace weir::testing {

class NatsServer {
 public:
  explicit NatsServer(std::string store_dir) : store_dir_(std::move(store_dir)) {}
  ~NatsServer() { Kill(); }
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  // Starts the server (picking ports on the first start) and waits until JetStream is ready.
  Status Start();
  // SIGKILL, then waits for the process to end.
  void Kill();
  // SIGTERM (the server shuts down cleanly), then waits.
  void Stop();

  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }

 private:
  void Signal(int sig);
  bool Healthy() const;

  std::string store_dir_;
  int port_ = 0;
  int monitor_port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace weir::testing
