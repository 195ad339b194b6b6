#include "testing/etcd_server.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "testing/child_process.h"

namespace weir::testing {

Status EtcdServer::Start() {
  if (pid_ > 0) return Status::OK();
  if (client_port_ == 0) {
    client_port_ = FreePort();
    peer_port_ = FreePort();
  }
  std::filesystem::create_directories(data_dir_);
  const std::string log = data_dir_ + "/../etcd-" + std::to_string(client_port_) + ".log";
  const std::string client = "http://127.0.0.1:" + std::to_string(client_port_);
  const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
  const std::vector<std::string> args = {"etcd",
                                         "--name=n1",
                                         "--data-dir=" + data_dir_,
                                         "--listen-client-urls=" + client,
                                         "--advertise-client-urls=" + client,
                                         "--listen-peer-urls=" + peer,
                                         "--initial-advertise-peer-urls=" + peer,
                                         "--initial-cluster=n1=" + peer,
                                         "--log-level=warn"};
  WEIR_ASSIGN_OR_RETURN(pid_, SpawnLogged(args, log));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (Exited(&pid_)) {
      return Status::IOError("etcd on port " + std::to_string(client_port_) +
                             " exited at start; see " + log);
    }
    if (HttpGetLoopback(client_port_, "/health").find("\"health\":\"true\"") != std::string::npos) {
      return Status::OK();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill();
  return Status::IOError("etcd on port " + std::to_string(client_port_) +
                         " did not become healthy within 20 s; see " + log);
}

void EtcdServer::Kill() {
  if (pid_ > 0) kill(pid_, SIGCONT);  // a paused process dies on SIGKILL too; reap it either way
  SignalAndWait(&pid_, SIGKILL);
}
void EtcdServer::Pause() {
  if (pid_ > 0) kill(pid_, SIGSTOP);
}
void EtcdServer::Resume() {
  if (pid_ > 0) kill(pid_, SIGCONT);
}

}  // namespace weir::testing
