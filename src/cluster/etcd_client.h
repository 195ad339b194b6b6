// EtcdClient: the few etcd v3 operations a weir cluster needs — keys, compare-and-swap
// transactions, leases — over etcd's JSON gateway (the client port's /v3/... endpoints, POST with
// JSON bodies whose keys and values are base64) with libcurl, so no gRPC stack is needed.
//
// Every call is one HTTP request with a bounded time (`request_timeout`); a server that is down,
// slow or answers something that is not etcd's JSON is one Status naming the endpoint and the
// operation. Thread-safe: each call uses its own curl handle from a small pool.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weir/status.h"

namespace weir::cluster {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;  // the revision of the key's latest write: what a CAS compares
  int64_t version = 0;       // writes since the key was created
  int64_t lease = 0;         // 0: none
};

// One condition of a transaction on a key.
struct Compare {
  enum class Target : uint8_t { kModRevision, kCreateRevision, kVersion, kValue };
  std::string key;
  Target target = Target::kModRevision;
  int64_t number = 0;  // for the revision and version targets (0: the key does not exist)
  std::string value;   // for kValue

  static Compare ModRevision(std::string key, int64_t revision) {
    return {std::move(key), Target::kModRevision, revision, {}};
  }
  static Compare CreateRevision(std::string key, int64_t revision) {
    return {std::move(key), Target::kCreateRevision, revision, {}};
  }
  static Compare Version(std::string key, int64_t version) {
    return {std::move(key), Target::kVersion, version, {}};
  }
  static Compare Value(std::string key, std::string value) {
    return {std::move(key), Target::kValue, 0, std::move(value)};
  }
};

// One write of a transaction.
struct Operation {
  enum class Kind : uint8_t { kPut, kDelete, kDeletePrefix };
  Kind kind = Kind::kPut;
  std::string key;
  std::string value;
  int64_t lease = 0;

  static Operation Put(std::string key, std::string value, int64_t lease = 0) {
    return {Kind::kPut, std::move(key), std::move(value), lease};
  }
  static Operation Delete(std::string key) { return {Kind::kDelete, std::move(key), {}, 0}; }
  static Operation DeletePrefix(std::string prefix) {
    return {Kind::kDeletePrefix, std::move(prefix), {}, 0};
  }
};

class EtcdClient {
 public:
  struct Options {
    std::chrono::milliseconds connect_timeout{1000};
    std::chrono::milliseconds request_timeout{5000};
  };

  // `url`: etcd://HOST:PORT or http://HOST:PORT (one endpoint). Checks the form only; the first
  // call reaches the server.
  static Result<std::unique_ptr<EtcdClient>> Create(const std::string& url, Options options);
  static Result<std::unique_ptr<EtcdClient>> Create(const std::string& url) {
    return Create(url, Options{});
  }
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  const std::string& endpoint() const { return endpoint_; }

  // The key's value, or nullopt.
  Result<std::optional<KeyValue>> Get(const std::string& key);
  // Every key starting with `prefix`, in key order.
  Result<std::vector<KeyValue>> GetPrefix(const std::string& prefix);
  // Writes the key (attached to `lease` if not 0); returns the revision of the write.
  Result<int64_t> Put(const std::string& key, const std::string& value, int64_t lease = 0);
  // Deletes the key (or every key under the prefix); returns how many were deleted.
  Result<int64_t> Delete(const std::string& key);
  Result<int64_t> DeletePrefix(const std::string& prefix);
  // Applies `success` if every comparison holds, else `failure`; returns whether they held.
  Result<bool> Txn(const std::vector<Compare>& compares, const std::vector<Operation>& success,
                   const std::vector<Operation>& failure = {});
  // Writes the key only if its latest write is `expected_mod_revision` (0: only if it does not
  // exist): the compare-and-swap everything that fences builds on.
  Result<bool> PutIfModRevision(const std::string& key, const std::string& value,
                                int64_t expected_mod_revision, int64_t lease = 0);

  // A lease of `ttl_seconds`: its keys vanish when it expires. Returns its id.
  Result<int64_t> GrantLease(int64_t ttl_seconds);
  // Renews the lease; returns its remaining TTL in seconds, 0 if it has expired (or never was).
  Result<int64_t> KeepAlive(int64_t lease);
  // Ends the lease now and deletes its keys (a lease that has already expired is not an error).
  Status RevokeLease(int64_t lease);

 private:
  class HandlePool;
  EtcdClient(std::string endpoint, Options options);
  // POSTs `body` to `path`; the parsed JSON answer (as text, parsed by the caller's helper).
  Result<std::string> Call(const std::string& path, const std::string& body, const char* operation);

  std::string endpoint_;  // http://HOST:PORT
  Options options_;
  std::unique_ptr<HandlePool> handles_;
};

// Base64 as etcd's JSON gateway writes keys and values (standard alphabet, padded).
std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace weir::cluster
