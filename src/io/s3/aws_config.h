// The AWS credential and region chain every S3 client follows (the AWS CLI and SDKs), so that a
// machine set up for `aws s3` is set up for weir:
//
//   credentials: weir's s3.access-key + s3.secret-key (Flink's keys) > AWS_ACCESS_KEY_ID +
//                AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN) > the profile's entry in the shared
//                credentials file (AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials) > the
//                profile's entry in the shared config file (AWS_CONFIG_FILE, default
//                ~/.aws/config). The profile is AWS_PROFILE, else AWS_DEFAULT_PROFILE, else
//                "default".
//   region:      s3.region > AWS_REGION > AWS_DEFAULT_REGION > the profile's `region` > us-east-1.
//   endpoint:    s3.endpoint > AWS_ENDPOINT_URL_S3 > AWS_ENDPOINT_URL > the profile's
//                `endpoint_url` > AWS itself.
//   path style:  s3.path-style-access > the profile's `s3 = addressing_style = path`.
//
// What is not read: instance metadata (IMDS), container credentials, SSO and credential_process.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "weir/config.h"
#include "weir/status.h"

namespace weir::s3 {

// Reads an environment variable (nullptr when unset); tests pass their own.
using EnvLookup = std::function<const char*(const char*)>;
EnvLookup ProcessEnvironment();

struct AwsSettings {
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // empty: long-term credentials
  std::string region;
  std::string endpoint;  // empty: AWS
  bool path_style = false;
  // Where the credentials came from, for messages ("environment", "profile 'x' of
  // /home/u/.aws/credentials"); never the credentials themselves.
  std::string credentials_source;
};

// Resolves the chain above. Errors name the file, line and profile, never a secret.
Result<AwsSettings> ResolveAwsSettings(const Configuration& config, const EnvLookup& env);

// One parsed AWS INI file: section name -> key -> value. A nested block ("s3 =" followed by
// indented "key = value" lines) is flattened to "s3.key". Exposed for tests.
using AwsIniFile = std::map<std::string, std::map<std::string, std::string>>;
Result<AwsIniFile> ParseAwsIni(std::string_view text, const std::string& source);

}  // namespace weir::s3
