#include "testing/nats_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

extern char** environ;

namespace weir::testing {
namespace {

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

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
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  const int rc = posix_spawnp(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = -1;
    return Status::IOError("cannot start " + args[0] +
                           " (install it with scripts/install-deps.sh)");
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
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
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(monitor_port_));
  bool ok = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request = "GET /healthz?js-enabled-only=true HTTP/1.0\r\n\r\n";
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buf[256];
      const ssize_t n = read(fd, buf, sizeof(buf) - 1);
      ok = n > 12 && std::string(buf, static_cast<size_t>(n)).find(" 200 ") != std::string::npos;
    }
  }
  close(fd);
  return ok;
}

void NatsServer::Signal(int sig) {
  if (pid_ <= 0) return;
  kill(pid_, sig);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

void NatsServer::Kill() { Signal(SIGKILL); }
void NatsServer::Stop() { Signal(SIGTERM); }

}  // namespace weir::testing
