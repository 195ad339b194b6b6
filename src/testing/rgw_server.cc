#include "testing/rgw_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <sstream>

namespace weir::testing {
namespace {

// A free port P such that P + 1 (the monitor's) is free too.
int FreePortPair() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    int port = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    int fd2 = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in next = addr;
    next.sin_port = htons(static_cast<uint16_t>(port + 1));
    const bool pair_free = port > 0 && port < 65000 &&
                           bind(fd2, reinterpret_cast<sockaddr*>(&next), sizeof(next)) == 0;
    close(fd2);
    close(fd);
    if (pair_free) return port;
  }
  return 0;
}

std::string Script() { return std::string(WEIR_SOURCE_DIR) + "/scripts/rgw.sh"; }

}  // namespace

Status RgwServer::Start() {
  if (started_) return Status::OK();
  // A gateway already running (scripts/rgw.sh start DIR PORT by hand): quicker test iterations.
  if (const char* existing = std::getenv("WEIR_TEST_RGW_ENDPOINT")) {
    endpoint_ = {existing, "weir-test-access", "weir-test-secret-0123456789abcdef", "weir-test"};
    return Status::OK();
  }
  char tmpl[] = "/tmp/weir-rgw-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return Status::IOError("cannot create a temp dir for RGW");
  dir_ = tmpl;
  const int port = FreePortPair();
  const std::string cmd = Script() + " start " + dir_ + " " + std::to_string(port) + " 2>&1";
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[1024];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
    if (pclose(p) != 0) {
      return Status::IOError(
          "scripts/rgw.sh start failed (install the packages with "
          "scripts/install-deps.sh): " +
          out);
    }
  }
  started_ = true;
  std::istringstream words(out.substr(out.rfind("endpoint=")));
  std::string w;
  while (words >> w) {
    const size_t eq = w.find('=');
    if (eq == std::string::npos) continue;
    const std::string k = w.substr(0, eq), v = w.substr(eq + 1);
    if (k == "endpoint") endpoint_.endpoint = v;
    if (k == "access_key") endpoint_.access_key = v;
    if (k == "secret_key") endpoint_.secret_key = v;
    if (k == "bucket") endpoint_.bucket = v;
  }
  if (endpoint_.endpoint.empty())
    return Status::IOError("scripts/rgw.sh printed no endpoint: " + out);
  return Status::OK();
}

void RgwServer::Stop() {
  if (!started_) return;
  started_ = false;
  // Best effort: a failure leaves a temp dir behind, nothing else.
  if (std::system((Script() + " stop " + dir_ + " >/dev/null 2>&1").c_str()) != 0) return;
  if (std::system(("rm -rf " + dir_).c_str()) != 0) return;
}

Status RgwServer::Configure(Configuration& config) const {
  WEIR_RETURN_IF_ERROR(config.Set(config::kS3Endpoint, endpoint_.endpoint));
  WEIR_RETURN_IF_ERROR(config.Set(config::kS3PathStyle, "true"));
  WEIR_RETURN_IF_ERROR(config.Set(config::kS3AccessKey, endpoint_.access_key));
  return config.Set(config::kS3SecretKey, endpoint_.secret_key);
}

std::vector<std::string> RgwServer::WeirOptions() const {
  return {
      "-D", "s3.endpoint=" + endpoint_.endpoint,     "-D", "s3.path-style-access=true",
      "-D", "s3.access-key=" + endpoint_.access_key, "-D", "s3.secret-key=" + endpoint_.secret_key};
}

RgwServer* SharedRgw(std::string* error) {
  static std::mutex mu;
  static RgwServer* server = nullptr;
  static Status status;
  std::lock_guard lock(mu);
  if (server == nullptr && status.ok()) {
    server = new RgwServer();
    status = server->Start();
    if (!status.ok()) {
      delete server;
      server = nullptr;
    } else {
      // Stopped when the test program exits.
      std::atexit([] { server->Stop(); });
    }
  }
  if (!status.ok() && error != nullptr) *error = status.message();
  return server;
}

}  // namespace weir::testing
