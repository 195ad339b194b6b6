// A single-member etcd for tests: started on 127.0.0.1 with free client and peer ports and a data
// directory of the caller's, stopped by its PID (the destructor kills it). Restart keeps the
// ports and the data, as a restarted production member would.
#pragma once

#include <sys/types.h>

#include <string>

#include "weir/status.h"

namespace weir::testing {

class EtcdServer {
 public:
  explicit EtcdServer(std::string data_dir) : data_dir_(std::move(data_dir)) {}
  ~EtcdServer() { Kill(); }
  EtcdServer(const EtcdServer&) = delete;
  EtcdServer& operator=(const EtcdServer&) = delete;

  // Starts etcd (picking ports on the first start) and waits until it reports itself healthy.
  Status Start();
  // SIGKILL, then waits for the process to end.
  void Kill();
  // SIGSTOP / SIGCONT: a member that stops answering without going away.
  void Pause();
  void Resume();

  std::string url() const { return "etcd://127.0.0.1:" + std::to_string(client_port_); }
  int port() const { return client_port_; }
  pid_t pid() const { return pid_; }

 private:
  std::string data_dir_;
  int client_port_ = 0;
  int peer_port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace weir::testing
