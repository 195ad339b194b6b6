#include "testing/rgw_server.h"

#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "io/s3/s3_options.h"

namespace weir::testing {
namespace {

std::string Script() { return std::string(WEIR_SOURCE_DIR) + "/scripts/rgw.sh"; }

// "name=value" words as rgw.sh prints them.
void ParseWords(const std::string& text, RgwEndpoint* out, std::string* session_token) {
  std::istringstream words(text);
  std::string w;
  while (words >> w) {
    const size_t eq = w.find('=');
    if (eq == std::string::npos) continue;
    const std::string k = w.substr(0, eq), v = w.substr(eq + 1);
    if (k == "endpoint") out->endpoint = v;
    if (k == "access_key") out->access_key = v;
    if (k == "secret_key") out->secret_key = v;
    if (k == "bucket") out->bucket = v;
    if (k == "session_token" && session_token != nullptr) *session_token = v;
  }
}

Result<std::string> RunScript(const std::string& args) {
  std::string out;
  FILE* p = popen((Script() + " " + args + " 2>&1").c_str(), "r");
  if (p == nullptr) return Status::IOError("cannot run scripts/rgw.sh");
  char buf[1024];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  if (pclose(p) != 0) return Status::IOError("scripts/rgw.sh " + args + " failed: " + out);
  return out;
}

}  // namespace

Status RgwServer::Start() {
  if (started_) return Status::OK();
  // A gateway already running: the one ctest's rgw fixture started (its endpoint file), or one
  // started by hand for quicker iterations.
  std::string out;
  if (const char* file = std::getenv("WEIR_TEST_RGW_ENDPOINT_FILE")) {
    dir_ = std::filesystem::path(file).parent_path();  // rgw.sh wrote DIR/endpoint
    std::ifstream in(file);
    if (!std::getline(in, out)) {
      return Status::IOError(std::string("no gateway endpoint in ") + file +
                             " (did the rgw_start test fail? see its output)");
    }
  } else if (const char* existing = std::getenv("WEIR_TEST_RGW_ENDPOINT")) {
    out = std::string("endpoint=") + existing +
          " access_key=weir-test-access secret_key=weir-test-secret-0123456789abcdef "
          "bucket=weir-test";
  }
  if (!out.empty()) return Parse(out);
  char tmpl[] = "/tmp/weir-rgw-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return Status::IOError("cannot create a temp dir for RGW");
  dir_ = tmpl;
  Result<std::string> started = RunScript("start " + dir_ + " auto");
  if (!started.ok()) {
    return Status::IOError(started.status().message() +
                           " (install the packages with scripts/install-deps.sh)");
  }
  out = *started;
  started_ = true;
  return Parse(out);
}

Status RgwServer::Parse(const std::string& out) {
  const size_t at = out.rfind("endpoint=");
  if (at == std::string::npos) return Status::IOError("no gateway endpoint in: " + out);
  ParseWords(out.substr(at), &endpoint_, nullptr);
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

Result<RgwEndpoint> RgwServer::SessionCredentials(std::string* session_token) const {
  if (dir_.empty()) {
    return Status::InvalidArgument(
        "session tokens need the gateway's directory (a gateway given by WEIR_TEST_RGW_ENDPOINT "
        "has none)");
  }
  WEIR_ASSIGN_OR_RETURN(const std::string out, RunScript("session-token " + dir_));
  RgwEndpoint temporary = endpoint_;
  temporary.access_key.clear();
  ParseWords(out, &temporary, session_token);
  if (temporary.access_key.empty() || session_token->empty()) {
    return Status::IOError("rgw.sh session-token printed no credentials");
  }
  return temporary;
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
