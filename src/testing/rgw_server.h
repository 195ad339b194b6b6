// A single-node Ceph RADOS Gateway for tests, started with scripts/rgw.sh on 127.0.0.1 (a free
// port, daemons under a temp dir) and stopped by their PIDs. Starting takes about 13 s, so a test
// program starts one for all its tests (SharedRgw) and each test uses its own key prefix.
// Under ctest the `rgw` fixture starts one gateway for every S3 test and passes its endpoint file
// in WEIR_TEST_RGW_ENDPOINT_FILE; WEIR_TEST_RGW_ENDPOINT=http://127.0.0.1:PORT uses a gateway
// started by hand with rgw.sh.
#pragma once

#include <memory>
#include <string>

#include "weir/config.h"
#include "weir/status.h"

namespace weir::testing {

struct RgwEndpoint {
  std::string endpoint;  // http://127.0.0.1:PORT
  std::string access_key;
  std::string secret_key;
  std::string bucket;
};

class RgwServer {
 public:
  RgwServer() = default;
  ~RgwServer() { Stop(); }
  RgwServer(const RgwServer&) = delete;
  RgwServer& operator=(const RgwServer&) = delete;

  Status Start();
  void Stop();
  // Reads "endpoint=… access_key=… secret_key=… bucket=…".
  Status Parse(const std::string& line);
  const RgwEndpoint& endpoint() const { return endpoint_; }
  // s3.* settings that reach this gateway.
  Status Configure(Configuration& config) const;
  // "-D key=value" arguments for the weir binary.
  std::vector<std::string> WeirOptions() const;
  // Temporary credentials from the gateway's STS (GetSessionToken, `rgw.sh session-token`):
  // access and secret key in an RgwEndpoint, the token in `*session_token`.
  Result<RgwEndpoint> SessionCredentials(std::string* session_token) const;

 private:
  std::string dir_;
  RgwEndpoint endpoint_;
  bool started_ = false;
};

// The gateway of this test program, started by the first call (nullptr if it failed to start;
// the error is in `*error`).
RgwServer* SharedRgw(std::string* error);

}  // namespace weir::testing
