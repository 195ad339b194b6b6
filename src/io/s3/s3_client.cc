#include "io/s3/s3_client.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <pugixml.hpp>

#include "io/s3/s3_options.h"

namespace weir::s3 {
namespace {

constexpr size_t kDeleteBatch = 1000;

// RFC 3986 encoding as SigV4 wants it; '/' kept in paths.
std::string Encode(std::string_view s, bool keep_slash) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::string Base64Md5(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr);
  unsigned char b64[64];
  const int n = EVP_EncodeBlock(b64, md, static_cast<int>(len));
  return std::string(reinterpret_cast<char*>(b64), static_cast<size_t>(n));
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// "2026-11-24T18:19:26.312Z" -> Unix milliseconds.
int64_t ParseIsoTime(const std::string& s) {
  std::tm tm{};
  if (strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return 0;
  int64_t ms = static_cast<int64_t>(timegm(&tm)) * 1000;
  const size_t dot = s.find('.');
  if (dot != std::string::npos) ms += std::atoi(s.substr(dot + 1, 3).c_str());
  return ms;
}

size_t WriteBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

size_t WriteHeader(char* data, size_t size, size_t n, void* out) {
  std::string line(data, size * n);
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    std::string value = line.substr(colon + 1);
    const size_t b = value.find_first_not_of(" \t");
    const size_t e = value.find_last_not_of(" \t\r\n");
    (*static_cast<std::map<std::string, std::string>*>(out))[name] =
        b == std::string::npos ? "" : value.substr(b, e - b + 1);
  }
  return size * n;
}

struct UploadSource {
  std::string_view data;
  size_t offset = 0;
};

size_t ReadBody(char* buffer, size_t size, size_t n, void* in) {
  auto* src = static_cast<UploadSource*>(in);
  const size_t k = std::min(size * n, src->data.size() - src->offset);
  std::memcpy(buffer, src->data.data() + src->offset, k);
  src->offset += k;
  return k;
}

// The S3 error code and message of an error body, if it is one, and the request's id (what
// the storage's operators ask for).
std::string ErrorText(const S3Response& r) {
  pugi::xml_document doc;
  std::string text = "HTTP " + std::to_string(r.status);
  std::string request_id;
  if (auto it = r.headers.find("x-amz-request-id"); it != r.headers.end()) request_id = it->second;
  if (!r.body.empty() && doc.load_buffer(r.body.data(), r.body.size())) {
    const auto err = doc.child("Error");
    if (const char* code = err.child_value("Code"); *code) text += " " + std::string(code);
    if (const char* msg = err.child_value("Message"); *msg) text += ": " + std::string(msg);
    if (const char* id = err.child_value("RequestId"); *id && request_id.empty()) request_id = id;
  }
  if (!request_id.empty()) text += " (request id " + request_id + ")";
  return text;
}

bool Retryable(const S3Response& r) {
  if (r.status >= 500 || r.status == 429 || r.status == 408) return true;
  // S3 asks for a retry of a request whose connection idled too long with 400 RequestTimeout.
  return r.status == 400 && r.body.find("<Code>RequestTimeout</Code>") != std::string::npos;
}

S3Request MakeRequest(std::string method, std::string bucket, std::string key = "") {
  S3Request r;
  r.method = std::move(method);
  r.bucket = std::move(bucket);
  r.key = std::move(key);
  return r;
}

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

}  // namespace

// At most max_connections curl handles; a handle keeps its connection alive between requests.
class S3Client::HandlePool {
 public:
  explicit HandlePool(int max) : max_(std::max(1, max)) {}
  ~HandlePool() {
    for (CURL* h : free_) curl_easy_cleanup(h);
  }
  CURL* Take() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !free_.empty() || created_ < max_; });
    if (!free_.empty()) {
      CURL* h = free_.back();
      free_.pop_back();
      return h;
    }
    ++created_;
    return curl_easy_init();
  }
  void Give(CURL* h) {
    {
      std::lock_guard lock(mu_);
      free_.push_back(h);
    }
    cv_.notify_one();
  }

 private:
  const int max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<CURL*> free_;
  int created_ = 0;
};

Result<std::pair<std::string, std::string>> ParseS3Path(std::string_view path) {
  constexpr std::string_view kScheme = "s3://";
  if (path.substr(0, kScheme.size()) != kScheme) {
    return Status::InvalidArgument("not an S3 path (s3://bucket/key): " + std::string(path));
  }
  path.remove_prefix(kScheme.size());
  const size_t slash = path.find('/');
  std::string bucket(path.substr(0, slash));
  std::string key(slash == std::string_view::npos ? "" : path.substr(slash + 1));
  if (bucket.size() < 3) {
    return Status::InvalidArgument("S3 path s3://" + std::string(path) +
                                   ": a bucket name has at least 3 characters");
  }
  return std::make_pair(std::move(bucket), std::move(key));
}

Result<S3Options> S3OptionsFromConfig(const Configuration& config, const EnvLookup& env) {
  WEIR_ASSIGN_OR_RETURN(AwsSettings aws, ResolveAwsSettings(config, env));
  S3Options o;
  o.endpoint = std::move(aws.endpoint);
  o.region = std::move(aws.region);
  o.path_style = aws.path_style;
  o.access_key = std::move(aws.access_key);
  o.secret_key = std::move(aws.secret_key);
  o.session_token = std::move(aws.session_token);
  o.part_size = config.Get(config::kS3PartSize).bytes;
  o.max_connections = static_cast<int>(config.Get(config::kS3MaxConnections));
  o.request_timeout_ms = config.Get(config::kS3RequestTimeout).count();
  return o;
}

S3Client::S3Client(S3Options options)
    : options_(std::move(options)), pool_(std::make_unique<HandlePool>(options_.max_connections)) {
  static CurlGlobal global;
  (void)global;
}

S3Client::~S3Client() = default;

void S3Client::SetFaultHook(S3FaultHook hook) {
  std::lock_guard lock(hook_mu_);
  hook_ = std::move(hook);
}

std::string S3Client::Url(const S3Request& r) const {
  std::string base = options_.endpoint.empty() ? "https://s3." + options_.region + ".amazonaws.com"
                                               : options_.endpoint;
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::string url;
  if (options_.path_style) {
    url = base + "/" + r.bucket;
  } else {
    const size_t scheme = base.find("://");
    url = scheme == std::string::npos
              ? r.bucket + "." + base
              : base.substr(0, scheme + 3) + r.bucket + "." + base.substr(scheme + 3);
  }
  if (!r.key.empty()) url += "/" + Encode(r.key, /*keep_slash=*/true);
  // SigV4 signs the canonical query: sorted by name (std::map), encoded, "name=" for flags.
  char sep = '?';
  for (const auto& [k, v] : r.query) {
    url += sep + Encode(k, false) + "=" + Encode(v, false);
    sep = '&';
  }
  return url;
}

Result<S3Response> S3Client::SendOnce(const S3Request& r, const std::string& what) {
  {
    std::lock_guard lock(hook_mu_);
    if (hook_) {
      if (auto injected = hook_(r)) return *injected;
    }
  }
  CURL* h = pool_->Take();
  curl_easy_reset(h);
  const std::string url = Url(r);
  const std::string sigv4 = "aws:amz:" + options_.region + ":s3";
  S3Response resp;
  UploadSource upload{r.body, 0};
  curl_slist* headers = curl_slist_append(nullptr, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
  // Temporary credentials: the token is a header curl signs with the others (SigV4).
  const std::string token_header = "x-amz-security-token: " + options_.session_token;
  if (!options_.session_token.empty()) headers = curl_slist_append(headers, token_header.c_str());
  for (const auto& hdr : r.headers) headers = curl_slist_append(headers, hdr.c_str());
  // (An empty "Expect:" to skip 100-continue would be signed but not sent: the server would
  // refuse the signature. curl waits at most 1 s for the 100, and servers send it at once.)
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(h, CURLOPT_USERNAME, options_.access_key.c_str());
  curl_easy_setopt(h, CURLOPT_PASSWORD, options_.secret_key.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout_ms));
  // A transfer that stalls below 1 KiB/s for 30 s is dead even before the timeout.
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp.body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &WriteHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &resp.headers);
  std::string range;
  if (r.range) {
    range = std::to_string(r.range->first) + "-" + std::to_string(r.range->second);
    curl_easy_setopt(h, CURLOPT_RANGE, range.c_str());
  }
  if (r.method == "PUT") {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, &ReadBody);
    curl_easy_setopt(h, CURLOPT_READDATA, &upload);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
  } else if (r.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, r.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
  } else if (r.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (r.method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  }
  const CURLcode rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    // The connection may be broken: do not keep it.
    curl_easy_cleanup(h);
    h = curl_easy_init();
    pool_->Give(h);
    return Status::IOError(what + ": " + curl_easy_strerror(rc), /*retryable=*/true);
  }
  pool_->Give(h);
  return resp;
}

Result<S3Response> S3Client::Send(const S3Request& r, const std::string& what) {
  Result<S3Response> result = Status::Internal("not sent");
  Status s = RetryRetryable(
      what,
      [&]() -> Status {
        result = SendOnce(r, what);
        if (!result.ok()) return result.status();
        const S3Response& resp = *result;
        if (resp.status >= 200 && resp.status < 300) return Status::OK();
        const std::string text = what + ": " + ErrorText(resp);
        if (resp.status == 404) return Status::NotFound(text);
        if (Retryable(resp)) return Status::IOError(text, /*retryable=*/true);
        if (resp.status == 403 || resp.status == 400) return Status::InvalidArgument(text);
        return Status::IOError(text);
      },
      options_.retry);
  if (!s.ok()) return s;
  return result;
}

Status S3Client::PutObject(const std::string& bucket, const std::string& key,
                           std::string_view data) {
  S3Request r = MakeRequest("PUT", bucket, key);
  r.body = data;
  return Send(r, "PUT s3://" + bucket + "/" + key).status();
}

Status S3Client::GetRange(const std::string& bucket, const std::string& key, uint64_t offset,
                          size_t n, std::string* out) {
  out->clear();
  if (n == 0) return Status::OK();
  S3Request r = MakeRequest("GET", bucket, key);
  r.range = std::make_pair(offset, offset + n - 1);
  auto resp = Send(r, "GET s3://" + bucket + "/" + key);
  if (!resp.ok()) {
    // 416: the range starts at or after the end of the object.
    if (resp.status().message().find("HTTP 416") != std::string::npos) return Status::OK();
    return resp.status();
  }
  *out = std::move(resp->body);
  if (resp->status == 200 && out->size() > n) {
    // A server that ignored the range sent the whole object.
    *out = offset >= out->size() ? std::string() : out->substr(offset, n);
  }
  return Status::OK();
}

Result<ListedObject> S3Client::HeadObject(const std::string& bucket, const std::string& key) {
  S3Request r = MakeRequest("HEAD", bucket, key);
  const std::string what = "HEAD s3://" + bucket + "/" + key;
  Result<S3Response> head = Send(r, what);
  if (!head.ok() && head.status().code() == StatusCode::kInvalidArgument) {
    // A HEAD answer has no body, so no S3 error code: a one-byte GET of the object says why
    // (SignatureDoesNotMatch, AccessDenied, ...).
    S3Request get = MakeRequest("GET", bucket, key);
    get.range = {{0, 0}};
    Result<S3Response> probe = Send(get, what);
    if (!probe.ok() && probe.status().code() == StatusCode::kInvalidArgument) {
      return probe.status();
    }
  }
  WEIR_ASSIGN_OR_RETURN(S3Response resp, std::move(head));
  ListedObject o{key, 0, 0};
  if (auto it = resp.headers.find("content-length"); it != resp.headers.end()) {
    o.size = std::stoull(it->second);
  }
  if (auto it = resp.headers.find("last-modified"); it != resp.headers.end()) {
    std::tm tm{};
    if (strptime(it->second.c_str(), "%a, %d %b %Y %H:%M:%S", &tm) != nullptr) {
      o.modified_unix_ms = static_cast<int64_t>(timegm(&tm)) * 1000;
    }
  }
  return o;
}

Status S3Client::DeleteObject(const std::string& bucket, const std::string& key) {
  S3Request r = MakeRequest("DELETE", bucket, key);
  Status s = Send(r, "DELETE s3://" + bucket + "/" + key).status();
  return s.code() == StatusCode::kNotFound ? Status::OK() : s;
}

Status S3Client::DeleteObjects(const std::string& bucket, const std::vector<std::string>& keys) {
  for (size_t start = 0; start < keys.size(); start += kDeleteBatch) {
    const size_t end = std::min(keys.size(), start + kDeleteBatch);
    std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>";
    for (size_t i = start; i < end; ++i) {
      body += "<Object><Key>" + XmlEscape(keys[i]) + "</Key></Object>";
    }
    body += "</Delete>";
    S3Request r = MakeRequest("POST", bucket);
    r.query = {{"delete", ""}};
    r.body = body;
    r.headers.push_back("Content-MD5: " + Base64Md5(body));
    r.headers.push_back("Content-Type: application/xml");
    const std::string what = "DeleteObjects in s3://" + bucket + " (" +
                             std::to_string(end - start) + " keys from " + keys[start] + ")";
    WEIR_ASSIGN_OR_RETURN(S3Response resp, Send(r, what));
    pugi::xml_document doc;
    if (doc.load_buffer(resp.body.data(), resp.body.size())) {
      for (auto err : doc.child("DeleteResult").children("Error")) {
        const std::string code = err.child_value("Code");
        if (code == "NoSuchKey") continue;
        return Status::IOError(what + ": " + err.child_value("Key") + ": " + code + " " +
                               err.child_value("Message"));
      }
    }
  }
  return Status::OK();
}

Result<ListResult> S3Client::List(const std::string& bucket, const std::string& prefix,
                                  const std::string& delimiter, size_t max_keys) {
  ListResult out;
  std::string token;
  while (true) {
    S3Request r = MakeRequest("GET", bucket);
    r.query = {{"list-type", "2"}, {"prefix", prefix}};
    if (!delimiter.empty()) r.query["delimiter"] = delimiter;
    if (!token.empty()) r.query["continuation-token"] = token;
    if (max_keys > 0) r.query["max-keys"] = std::to_string(max_keys);
    const std::string what = "LIST s3://" + bucket + "/" + prefix;
    WEIR_ASSIGN_OR_RETURN(S3Response resp, Send(r, what));
    pugi::xml_document doc;
    if (!doc.load_buffer(resp.body.data(), resp.body.size())) {
      return Status::IOError(what + ": the answer is not XML");
    }
    const auto result = doc.child("ListBucketResult");
    for (auto c : result.children("Contents")) {
      out.objects.push_back({c.child_value("Key"),
                             std::stoull("0" + std::string(c.child_value("Size"))),
                             ParseIsoTime(c.child_value("LastModified"))});
    }
    for (auto p : result.children("CommonPrefixes"))
      out.common_prefixes.push_back(p.child_value("Prefix"));
    if (std::string(result.child_value("IsTruncated")) != "true" || max_keys > 0) break;
    token = result.child_value("NextContinuationToken");
    if (token.empty()) return Status::IOError(what + ": a truncated listing without a token");
  }
  return out;
}

Status S3Client::CopyObject(const std::string& bucket, const std::string& from,
                            const std::string& to) {
  S3Request r = MakeRequest("PUT", bucket, to);
  r.headers.push_back("x-amz-copy-source: /" + bucket + "/" + Encode(from, true));
  return Send(r, "COPY s3://" + bucket + "/" + from + " to " + to).status();
}

Result<std::string> S3Client::CreateMultipartUpload(const std::string& bucket,
                                                    const std::string& key) {
  S3Request r = MakeRequest("POST", bucket, key);
  r.query = {{"uploads", ""}};
  const std::string what = "CreateMultipartUpload s3://" + bucket + "/" + key;
  WEIR_ASSIGN_OR_RETURN(S3Response resp, Send(r, what));
  pugi::xml_document doc;
  doc.load_buffer(resp.body.data(), resp.body.size());
  std::string id = doc.child("InitiateMultipartUploadResult").child_value("UploadId");
  if (id.empty()) return Status::IOError(what + ": no UploadId in the answer");
  return id;
}

Result<std::string> S3Client::UploadPart(const std::string& bucket, const std::string& key,
                                         const std::string& upload_id, int part_number,
                                         std::string_view data) {
  S3Request r = MakeRequest("PUT", bucket, key);
  r.query = {{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id}};
  r.body = data;
  const std::string what =
      "UploadPart " + std::to_string(part_number) + " of s3://" + bucket + "/" + key;
  WEIR_ASSIGN_OR_RETURN(S3Response resp, Send(r, what));
  auto it = resp.headers.find("etag");
  if (it == resp.headers.end()) return Status::IOError(what + ": no ETag in the answer");
  return it->second;
}

Status S3Client::CompleteMultipartUpload(const std::string& bucket, const std::string& key,
                                         const std::string& upload_id,
                                         const std::vector<std::string>& etags) {
  std::string body = "<CompleteMultipartUpload>";
  for (size_t i = 0; i < etags.size(); ++i) {
    body += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" +
            XmlEscape(etags[i]) + "</ETag></Part>";
  }
  body += "</CompleteMultipartUpload>";
  S3Request r = MakeRequest("POST", bucket, key);
  r.query = {{"uploadId", upload_id}};
  r.body = body;
  const std::string what = "CompleteMultipartUpload s3://" + bucket + "/" + key;
  WEIR_ASSIGN_OR_RETURN(S3Response resp, Send(r, what));
  // S3 may answer 200 with an error in the body.
  if (resp.body.find("<Error>") != std::string::npos) {
    return Status::IOError(what + ": " + ErrorText(resp), /*retryable=*/false);
  }
  return Status::OK();
}

Status S3Client::AbortMultipartUpload(const std::string& bucket, const std::string& key,
                                      const std::string& upload_id) {
  S3Request r = MakeRequest("DELETE", bucket, key);
  r.query = {{"uploadId", upload_id}};
  Status s = Send(r, "AbortMultipartUpload s3://" + bucket + "/" + key).status();
  return s.code() == StatusCode::kNotFound ? Status::OK() : s;
}

Result<std::vector<std::pair<std::string, std::string>>> S3Client::ListMultipartUploads(
    const std::string& bucket, const std::string& prefix) {
  S3Request r = MakeRequest("GET", bucket);
  r.query = {{"uploads", ""}, {"prefix", prefix}};
  const std::string what = "ListMultipartUploads s3://" + bucket + "/" + prefix;
  WEIR_ASSIGN_OR_RETURN(S3Response resp, Send(r, what));
  pugi::xml_document doc;
  doc.load_buffer(resp.body.data(), resp.body.size());
  std::vector<std::pair<std::string, std::string>> out;
  for (auto u : doc.child("ListMultipartUploadsResult").children("Upload")) {
    out.emplace_back(u.child_value("Key"), u.child_value("UploadId"));
  }
  return out;
}

}  // namespace weir::s3
