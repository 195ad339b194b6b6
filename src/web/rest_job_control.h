// The REST API's job control, in Flink's request and response shapes (docs/savepoints.md):
//   POST  /jobs/<id>/savepoints {"target-directory", "formatType", "cancel-job"} -> 202
//         {"request-id"}; GET /jobs/<id>/savepoints/<request id> -> {"status": {"id":
//         "IN_PROGRESS"|"COMPLETED"}, "operation": {"location"} | {"failure-cause"}}
//   POST  /jobs/<id>/stop {"targetDirectory", "drain", "formatType"} -> 202 {"request-id"}
//         (its status under .../savepoints/<request id>)
//   POST  /jobs/<id>/checkpoints {"checkpointType": "FULL"|"INCREMENTAL"|"CONFIGURED"} -> 202
//         {"request-id"}; GET /jobs/<id>/checkpoints/<request id> -> {"status", "operation":
//         {"checkpointId"} | {"failure-cause"}}
//   PATCH /jobs/<id>?mode=cancel -> 202 {}
// Every mutating request passes the RestControlOptions' checks first: 403 when control is off,
// 401 without the bearer token (or with another one).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "runtime/job_runtime.h"
#include "web/rest_control.h"

namespace httplib {
class Server;
}

namespace weir::web {

// The requests a client was told had settled.
class SettledRequestsServed {
 public:
  void Add(const std::string& request);
  // Waits until `request` is among them, at most `timeout_ms`.
  bool WaitFor(const std::string& request, int64_t timeout_ms);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> served_;
};

void AddJobControlRoutes(httplib::Server& server, JobRuntime& job,
                         const RestControlOptions& control,
                         std::shared_ptr<SettledRequestsServed> settled);

}  // namespace weir::web
