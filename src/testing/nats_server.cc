#include "testing/nats_server.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "testing/child_process.h"

namespace weir::testing {
namespace {

std::string ServerBinary() {
  for (const char* p : {"/usr/sbin/nats-server", "/usr/bin/nats-server"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "nats-server";
}

}  // namespace

Status NatsServer::Start() {
  if (pid_ > 0) return Status::OK();
  if (port_ == 0) {
    port_ = FreePort();
    monitor_port_ = FreePort();
  }
  std::filesystem::create_directories(store_dir_);
  const std::string log = store_dir_ + "/../nats-server-" + std::to_string(port_) + ".log";
  std::vector<std::string> args = {ServerBinary(), "-js",
                                   "-sd",          store_dir_,
                                   "-a",           "127.0.0.1",
                                   "-p",           std::to_string(port_),
                                   "-m",           std::to_string(monitor_port_)};
  WEIR_ASSIGN_OR_RETURN(pid_, SpawnLogged(args, log));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (Exited(&pid_)) {
      return Status::IOError("nats-server on port " + std::to_string(port_) +
                             " exited at start; see " + log);
    }
    if (Healthy()) return Status::OK();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Kill();
  return Status::IOError("nats-server on port " + std::to_string(port_) +
                         " did not become ready within 20 s; see " + log);
}

bool NatsServer::Healthy() const {
  return HttpGetLoopback(monitor_port_, "/healthz?js-enabled-only=true").find(" 200 ") !=
         std::string::npos;
}

void NatsServer::Signal(int sig) { SignalAndWait(&pid_, sig); }

void NatsServer::Kill() { Signal(SIGKILL); }
void NatsServer::Stop() { Signal(SIGTERM); }

}  // namespace weir::testing
