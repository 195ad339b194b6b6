#include "cluster/etcd_client.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <cctype>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>

namespace weir::cluster {
namespace {

using json = nlohmann::json;

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// proto3 JSON: 64-bit integers are strings, and a field at its default value is absent.
int64_t Int(const json& object, const char* field) {
  const auto it = object.find(field);
  if (it == object.end() || it->is_null()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    int64_t v = 0;
    const auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (error == std::errc() && end == s.data() + s.size()) return v;
  }
  return 0;
}

// The end of the range of every key starting with `prefix` (etcd's "range_end"): the prefix
// with its last byte below 0xff incremented; "\0" (every key) when there is none.
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last < 0xff) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');
}

const char* TargetName(Compare::Target t) {
  switch (t) {
    case Compare::Target::kModRevision:
      return "MOD";
    case Compare::Target::kCreateRevision:
      return "CREATE";
    case Compare::Target::kVersion:
      return "VERSION";
    case Compare::Target::kValue:
      return "VALUE";
  }
  return "MOD";
}

json CompareJson(const Compare& c) {
  json j = {{"key", Base64Encode(c.key)}, {"target", TargetName(c.target)}, {"result", "EQUAL"}};
  switch (c.target) {
    case Compare::Target::kModRevision:
      j["mod_revision"] = std::to_string(c.number);
      break;
    case Compare::Target::kCreateRevision:
      j["create_revision"] = std::to_string(c.number);
      break;
    case Compare::Target::kVersion:
      j["version"] = std::to_string(c.number);
      break;
    case Compare::Target::kValue:
      j["value"] = Base64Encode(c.value);
      break;
  }
  return j;
}

json OperationJson(const Operation& op) {
  switch (op.kind) {
    case Operation::Kind::kPut: {
      json put = {{"key", Base64Encode(op.key)}, {"value", Base64Encode(op.value)}};
      if (op.lease != 0) put["lease"] = std::to_string(op.lease);
      return {{"request_put", put}};
    }
    case Operation::Kind::kDelete:
      return {{"request_delete_range", {{"key", Base64Encode(op.key)}}}};
    case Operation::Kind::kDeletePrefix:
      return {{"request_delete_range",
               {{"key", Base64Encode(op.key)}, {"range_end", Base64Encode(PrefixEnd(op.key))}}}};
  }
  return json::object();
}

}  // namespace

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(3 * (text.size() / 4), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes.
  size_t padding = 0;
  for (size_t i = text.size(); i > 0 && text[i - 1] == '=' && padding < 2; --i) ++padding;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

// A few curl handles, each keeping its connection to etcd alive between calls.
class EtcdClient::HandlePool {
 public:
  ~HandlePool() {
    for (CURL* h : free_) curl_easy_cleanup(h);
  }
  CURL* Take() {
    std::lock_guard lock(mu_);
    if (free_.empty()) return curl_easy_init();
    CURL* h = free_.back();
    free_.pop_back();
    return h;
  }
  void Give(CURL* h) {
    std::lock_guard lock(mu_);
    if (free_.size() < 4) {
      free_.push_back(h);
      return;
    }
    curl_easy_cleanup(h);
  }

 private:
  std::mutex mu_;
  std::vector<CURL*> free_;
};

Result<std::unique_ptr<EtcdClient>> EtcdClient::Create(const std::string& url, Options options) {
  static CurlGlobal global;
  std::string_view rest = url;
  for (std::string_view scheme : {"etcd://", "http://"}) {
    if (rest.starts_with(scheme)) {
      rest.remove_prefix(scheme.size());
      break;
    }
  }
  if (rest.size() == url.size()) {
    return Status::InvalidArgument("etcd endpoint '" + url +
                                   "': expected etcd://HOST:PORT or http://HOST:PORT");
  }
  if (rest.ends_with('/')) rest.remove_suffix(1);
  const size_t colon = rest.rfind(':');
  int port = 0;
  bool ok = colon != std::string_view::npos && colon > 0 && colon + 1 < rest.size();
  if (ok) {
    const auto [end, error] =
        std::from_chars(rest.data() + colon + 1, rest.data() + rest.size(), port);
    ok = error == std::errc() && end == rest.data() + rest.size() && port > 0 && port < 65536;
  }
  const std::string_view host = ok ? rest.substr(0, colon) : std::string_view();
  for (char c : host) {
    const bool allowed = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ||
                         c == '[' || c == ']' || c == ':';
    ok = ok && allowed;
  }
  if (!ok) {
    return Status::InvalidArgument("etcd endpoint '" + url +
                                   "': expected etcd://HOST:PORT with a port from 1 to 65535");
  }
  return std::unique_ptr<EtcdClient>(
      new EtcdClient("http://" + std::string(host) + ":" + std::to_string(port), options));
}

EtcdClient::EtcdClient(std::string endpoint, Options options)
    : endpoint_(std::move(endpoint)), options_(options), handles_(std::make_unique<HandlePool>()) {}

EtcdClient::~EtcdClient() = default;

Result<std::string> EtcdClient::Call(const std::string& path, const std::string& body,
                                     const char* operation) {
  CURL* h = handles_->Take();
  if (h == nullptr) return Status::Internal("etcd " + std::string(operation) + ": no curl handle");
  curl_easy_reset(h);
  const std::string url = endpoint_ + path;
  std::string answer;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &Append);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
  const CURLcode rc = curl_easy_perform(h);
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(headers);
  handles_->Give(h);
  const std::string what = "etcd " + std::string(operation) + " at " + endpoint_;
  if (rc != CURLE_OK) {
    return Status::IOError(what + ": " + curl_easy_strerror(rc), /*retryable=*/true);
  }
  if (code != 200) {
    const json error = json::parse(answer, nullptr, false);
    std::string message = answer.substr(0, 200);
    if (error.is_object()) {
      const json* m = error.contains("error") ? &error["error"] : nullptr;
      if (error.contains("message") && error["message"].is_string()) m = &error["message"];
      if (m != nullptr && m->is_string()) message = m->get<std::string>();
    }
    return Status::IOError(what + ": HTTP " + std::to_string(code) + ": " + message,
                           /*retryable=*/code >= 500);
  }
  return answer;
}

namespace {

Result<json> Parse(const std::string& answer, const std::string& what) {
  json j = json::parse(answer, nullptr, false);
  if (!j.is_object()) {
    return Status::IOError(what + ": the answer is not etcd's JSON: " + answer.substr(0, 200));
  }
  return j;
}

Result<KeyValue> ParseKeyValue(const json& j, const std::string& what) {
  KeyValue kv;
  std::optional<std::string> key =
      Base64Decode(j.contains("key") && j["key"].is_string() ? j["key"].get<std::string>() : "");
  std::optional<std::string> value = Base64Decode(
      j.contains("value") && j["value"].is_string() ? j["value"].get<std::string>() : "");
  if (!key || !value) return Status::IOError(what + ": a key or value is not base64");
  kv.key = std::move(*key);
  kv.value = std::move(*value);
  kv.create_revision = Int(j, "create_revision");
  kv.mod_revision = Int(j, "mod_revision");
  kv.version = Int(j, "version");
  kv.lease = Int(j, "lease");
  return kv;
}

Result<std::vector<KeyValue>> ParseRange(const json& j, const std::string& what) {
  std::vector<KeyValue> out;
  const auto kvs = j.find("kvs");
  if (kvs == j.end()) return out;  // proto3 JSON leaves an empty list out
  if (!kvs->is_array()) return Status::IOError(what + ": 'kvs' is not a list");
  for (const json& e : *kvs) {
    WEIR_ASSIGN_OR_RETURN(KeyValue kv, ParseKeyValue(e, what));
    out.push_back(std::move(kv));
  }
  return out;
}

}  // namespace

Result<std::optional<KeyValue>> EtcdClient::Get(const std::string& key) {
  const std::string what = "etcd get of '" + key + "' at " + endpoint_;
  WEIR_ASSIGN_OR_RETURN(std::string answer,
                        Call("/v3/kv/range", json{{"key", Base64Encode(key)}}.dump(), "get"));
  WEIR_ASSIGN_OR_RETURN(json j, Parse(answer, what));
  WEIR_ASSIGN_OR_RETURN(std::vector<KeyValue> kvs, ParseRange(j, what));
  if (kvs.empty()) return std::optional<KeyValue>();
  return std::optional<KeyValue>(std::move(kvs.front()));
}

Result<std::vector<KeyValue>> EtcdClient::GetPrefix(const std::string& prefix) {
  const std::string what = "etcd range of '" + prefix + "*' at " + endpoint_;
  WEIR_ASSIGN_OR_RETURN(
      std::string answer,
      Call("/v3/kv/range",
           json{{"key", Base64Encode(prefix)}, {"range_end", Base64Encode(PrefixEnd(prefix))}}
               .dump(),
           "range"));
  WEIR_ASSIGN_OR_RETURN(json j, Parse(answer, what));
  return ParseRange(j, what);
}

Result<int64_t> EtcdClient::Put(const std::string& key, const std::string& value, int64_t lease) {
  json body = {{"key", Base64Encode(key)}, {"value", Base64Encode(value)}};
  if (lease != 0) body["lease"] = std::to_string(lease);
  WEIR_ASSIGN_OR_RETURN(std::string answer, Call("/v3/kv/put", body.dump(), "put"));
  WEIR_ASSIGN_OR_RETURN(json j, Parse(answer, "etcd put of '" + key + "' at " + endpoint_));
  return j.contains("header") ? Int(j["header"], "revision") : 0;
}

Result<int64_t> EtcdClient::Delete(const std::string& key) {
  WEIR_ASSIGN_OR_RETURN(
      std::string answer,
      Call("/v3/kv/deleterange", json{{"key", Base64Encode(key)}}.dump(), "delete"));
  WEIR_ASSIGN_OR_RETURN(json j, Parse(answer, "etcd delete of '" + key + "' at " + endpoint_));
  return Int(j, "deleted");
}

Result<int64_t> EtcdClient::DeletePrefix(const std::string& prefix) {
  WEIR_ASSIGN_OR_RETURN(
      std::string answer,
      Call("/v3/kv/deleterange",
           json{{"key", Base64Encode(prefix)}, {"range_end", Base64Encode(PrefixEnd(prefix))}}
               .dump(),
           "delete"));
  WEIR_ASSIGN_OR_RETURN(json j, Parse(answer, "etcd delete of '" + prefix + "*' at " + endpoint_));
  return Int(j, "deleted");
}

Result<bool> EtcdClient::Txn(const std::vector<Compare>& compares,
                             const std::vector<Operation>& success,
                             const std::vector<Operation>& failure) {
  json body = {{"compare", json::array()}, {"success", json::array()}, {"failure", json::array()}};
  for (const auto& c : compares) body["compare"].push_back(CompareJson(c));
  for (const auto& op : success) body["success"].push_back(OperationJson(op));
  for (const auto& op : failure) body["failure"].push_back(OperationJson(op));
  WEIR_ASSIGN_OR_RETURN(std::string answer, Call("/v3/kv/txn", body.dump(), "transaction"));
  WEIR_ASSIGN_OR_RETURN(json j, Parse(answer, "etcd transaction at " + endpoint_));
  // A failed transaction's answer has no "succeeded" field at all (proto3's default).
  const auto it = j.find("succeeded");
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

Result<bool> EtcdClient::PutIfModRevision(const std::string& key, const std::string& value,
                                          int64_t expected_mod_revision, int64_t lease) {
  return Txn({Compare::ModRevision(key, expected_mod_revision)},
             {Operation::Put(key, value, lease)});
}

Result<int64_t> EtcdClient::GrantLease(int64_t ttl_seconds) {
  if (ttl_seconds <= 0) {
    return Status::InvalidArgument("etcd lease: the TTL must be positive, not " +
                                   std::to_string(ttl_seconds));
  }
  WEIR_ASSIGN_OR_RETURN(std::string answer,
                        Call("/v3/lease/grant", json{{"TTL", ttl_seconds}}.dump(), "lease grant"));
  WEIR_ASSIGN_OR_RETURN(json j, Parse(answer, "etcd lease grant at " + endpoint_));
  const int64_t id = Int(j, "ID");
  if (id == 0) {
    return Status::IOError("etcd lease grant at " + endpoint_ + ": no lease id in " +
                           answer.substr(0, 200));
  }
  return id;
}

Result<int64_t> EtcdClient::KeepAlive(int64_t lease) {
  Result<std::string> answer =
      Call("/v3/lease/keepalive", json{{"ID", std::to_string(lease)}}.dump(), "lease keep-alive");
  if (!answer.ok()) {
    if (answer.status().message().find("lease not found") != std::string::npos) return 0;
    return answer.status();
  }
  // A stream of answers, one per request: one here, {"result": {...}}.
  const std::string first = answer->substr(0, answer->find('\n'));
  WEIR_ASSIGN_OR_RETURN(json j, Parse(first, "etcd lease keep-alive at " + endpoint_));
  if (j.contains("error")) {
    const std::string message = j["error"].dump();
    if (message.find("lease not found") != std::string::npos) return 0;
    return Status::IOError("etcd lease keep-alive at " + endpoint_ + ": " + message);
  }
  const json& result = j.contains("result") ? j["result"] : j;
  return std::max<int64_t>(0, Int(result, "TTL"));
}

Status EtcdClient::RevokeLease(int64_t lease) {
  Result<std::string> answer =
      Call("/v3/lease/revoke", json{{"ID", std::to_string(lease)}}.dump(), "lease revoke");
  if (!answer.ok() && answer.status().message().find("lease not found") == std::string::npos) {
    return answer.status();
  }
  return Status::OK();
}

}  // namespace weir::cluster
