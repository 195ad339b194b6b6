// S3Client: the S3 REST calls weir's checkpoint storage needs, over libcurl, which signs every
// request with AWS Signature V4 itself (CURLOPT_AWS_SIGV4). Connections are reused: a pool of
// at most `max_connections` curl handles, each keeping its connection alive.
//
// Every request has a timeout and is retried with exponential backoff and jitter when the answer
// is throttling (503 SlowDown, 429), a 5xx, or a connection error; a 4xx that cannot succeed is
// returned at once. Credentials never appear in an error, a log line or a URL.
//
// Thread-safe: any number of threads may call at once (each takes a handle from the pool).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/retry.h"
#include "io/s3/aws_config.h"
#include "weir/config.h"
#include "weir/status.h"

namespace weir::s3 {

struct S3Options {
  std::string endpoint;  // "http://127.0.0.1:7480"; empty: https://s3.<region>.amazonaws.com
  std::string region = "us-east-1";
  bool path_style = false;  // endpoint/bucket/key instead of bucket.endpoint/key
  std::string access_key;
  std::string secret_key;
  std::string session_token;      // temporary credentials: sent as x-amz-security-token
  uint64_t part_size = 16 << 20;  // multipart upload part size; objects below it: one PUT
  int max_connections = 16;
  int64_t request_timeout_ms = 120000;
  RetryOptions retry{.max_attempts = 6, .initial_backoff_ms = 100, .max_backoff_ms = 5000};
};

// The s3.* keys of `config`, completed by the AWS chain (io/s3/aws_config.h: environment, shared
// credentials and config files with profiles).
Result<S3Options> S3OptionsFromConfig(const Configuration& config,
                                      const EnvLookup& env = ProcessEnvironment());

struct S3Request {
  std::string method = "GET";  // GET, PUT, POST, DELETE, HEAD
  std::string bucket;
  std::string key;                           // without a leading '/'; may be empty (the bucket)
  std::map<std::string, std::string> query;  // signed in canonical (sorted, encoded) form
  std::vector<std::string> headers;          // "Name: value"
  std::string_view body;
  std::optional<std::pair<uint64_t, uint64_t>> range;  // inclusive byte range
};

struct S3Response {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

// What a test may put between the client and the server: returning a response skips the server
// (a synthesized 503, say); nullopt lets the request through.
using S3FaultHook = std::function<std::optional<S3Response>(const S3Request&)>;

struct ListedObject {
  std::string key;
  uint64_t size = 0;
  int64_t modified_unix_ms = 0;
};
struct ListResult {
  std::vector<ListedObject> objects;
  std::vector<std::string> common_prefixes;  // with delimiter '/': the "directories"
};

class S3Client {
 public:
  explicit S3Client(S3Options options);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  const S3Options& options() const { return options_; }
  void SetFaultHook(S3FaultHook hook);

  // One request with retries; `what` names it in errors ("PUT s3://b/k"). A final status outside
  // 2xx becomes a Status (404 NotFound, other 4xx per S3 error code, 5xx IOError).
  Result<S3Response> Send(const S3Request& request, const std::string& what);

  Status PutObject(const std::string& bucket, const std::string& key, std::string_view data);
  // Reads [offset, offset + n) (short at the end of the object).
  Status GetRange(const std::string& bucket, const std::string& key, uint64_t offset, size_t n,
                  std::string* out);
  // NotFound when the object does not exist.
  Result<ListedObject> HeadObject(const std::string& bucket, const std::string& key);
  Status DeleteObject(const std::string& bucket, const std::string& key);
  // Batched DeleteObjects, 1000 keys a request; missing keys are no error.
  Status DeleteObjects(const std::string& bucket, const std::vector<std::string>& keys);
  // ListObjectsV2 over every page. `delimiter` "" lists recursively.
  Result<ListResult> List(const std::string& bucket, const std::string& prefix,
                          const std::string& delimiter, size_t max_keys = 0);
  Status CopyObject(const std::string& bucket, const std::string& from, const std::string& to);

  Result<std::string> CreateMultipartUpload(const std::string& bucket, const std::string& key);
  // Returns the part's ETag.
  Result<std::string> UploadPart(const std::string& bucket, const std::string& key,
                                 const std::string& upload_id, int part_number,
                                 std::string_view data);
  Status CompleteMultipartUpload(const std::string& bucket, const std::string& key,
                                 const std::string& upload_id,
                                 const std::vector<std::string>& etags);
  Status AbortMultipartUpload(const std::string& bucket, const std::string& key,
                              const std::string& upload_id);
  // Multipart uploads in progress under `prefix` (key, upload id).
  Result<std::vector<std::pair<std::string, std::string>>> ListMultipartUploads(
      const std::string& bucket, const std::string& prefix);

 private:
  class HandlePool;
  Result<S3Response> SendOnce(const S3Request& request, const std::string& what);
  std::string Url(const S3Request& request) const;

  S3Options options_;
  std::unique_ptr<HandlePool> pool_;
  std::mutex hook_mu_;
  S3FaultHook hook_;
};

// "s3://bucket/key" -> (bucket, key); InvalidArgument for anything else.
Result<std::pair<std::string, std::string>> ParseS3Path(std::string_view path);

}  // namespace weir::s3
