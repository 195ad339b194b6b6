// ClusterRestServer: what `weir worker` serves over HTTP — the cluster view of its job, read from
// etcd at each request, so every worker answers the same whichever one is asked:
//   GET /          the cluster dashboard (workers, leader, each shard's owner, epoch and latest
//                  checkpoint; refreshed every second)
//   GET /cluster   the same as JSON (ClusterViewJson)
//   GET /shards    the shards this worker runs now, each with its job's vertices, metrics and
//                  checkpoint statistics (the single-job REST API's job and checkpoints
//                  answers): {"worker", "shards": [{"shard", "epoch", "handing-off", "job",
//                  "checkpoints"}]}
// Read-only: nothing here changes the job, so it needs no token on any address. The shard jobs
// a worker runs come and go with the assignment; their checkpoints are on the shared storage.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "cluster/etcd_client.h"
#include "cluster/worker.h"

namespace httplib {
class Server;
}

namespace weir::web {

// {"job", "shards", "checkpoint-root", "workers": [{"id", "leader", "shards": [..]}],
//  "leader", "shard-states": [{"shard", "owner", "assigned-to", "epoch", "finished",
//  "latest-checkpoint": {"id", "epoch", "path"} | null}]}
nlohmann::json ClusterViewJson(const std::string& job, const cluster::ClusterView& view);

class ClusterRestServer {
 public:
  // What GET /shards lists: this worker's running shards as JSON (an array).
  using LocalShards = std::function<nlohmann::json()>;
  // `etcd` must outlive the server. `standby_copies`: the standby copies this worker keeps
  // (cluster.standby-replicas), as a JSON array of {"shard", "checkpoint"}.
  ClusterRestServer(cluster::EtcdClient& etcd, std::string job, std::string member,
                    LocalShards local_shards, LocalShards standby_copies = {});
  ~ClusterRestServer();
  ClusterRestServer(const ClusterRestServer&) = delete;
  ClusterRestServer& operator=(const ClusterRestServer&) = delete;

  // Binds `address`:`port` (0: a free port) and starts serving.
  Status Start(const std::string& address, int port);
  void Stop();
  int port() const { return port_; }

 private:
  cluster::EtcdClient& etcd_;
  std::string job_;
  std::string member_;
  LocalShards local_shards_;
  LocalShards standby_copies_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  int listen_socket_ = -1;
};

}  // namespace weir::web
