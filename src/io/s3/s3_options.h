// Options of the S3 file system (s3:// paths). Flink's S3 file systems take the same keys where
// they have one (s3.endpoint, s3.access-key, s3.secret-key, s3.path.style.access).
#pragma once

#include <chrono>
#include <vector>

#include "weir/config_option.h"

namespace weir::config {

inline constexpr ConfigOption<std::string_view> kS3Endpoint{
    .key = "s3.endpoint",
    .default_value = "",
    .description =
        "S3 endpoint URL for `s3://` paths, e.g. `http://127.0.0.1:7480` for a Ceph RGW; none: "
        "`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, the AWS profile's `endpoint_url`, else AWS "
        "(`https://s3.<region>.amazonaws.com`).",
    .flink_key = "s3.endpoint"};
inline constexpr ConfigOption<std::string_view> kS3Region{
    .key = "s3.region",
    .default_value = "us-east-1",
    .description =
        "Region that requests are signed for (AWS Signature V4); unset: `AWS_REGION`, "
        "`AWS_DEFAULT_REGION`, the AWS profile's `region`, else this default."};
inline constexpr ConfigOption<bool> kS3PathStyle{
    .key = "s3.path-style-access",
    .default_value = false,
    .description =
        "Address buckets as `<endpoint>/<bucket>/<key>` (Ceph RGW, MinIO) instead of "
        "`<bucket>.<endpoint>/<key>`; unset: the AWS profile's `s3 = addressing_style = path`.",
    .flink_key = "s3.path.style.access"};
inline constexpr ConfigOption<std::string_view> kS3AccessKey{
    .key = "s3.access-key",
    .default_value = "",
    .description =
        "S3 access key (with `s3.secret-key`); none: the AWS chain: `AWS_ACCESS_KEY_ID`, "
        "`AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, else the profile (`AWS_PROFILE`, else "
        "`default`) of `~/.aws/credentials` and `~/.aws/config` (docs/s3.md).",
    .flink_key = "s3.access-key"};
inline constexpr ConfigOption<std::string_view> kS3SecretKey{
    .key = "s3.secret-key",
    .default_value = "",
    .description =
        "S3 secret key; none: the AWS chain (see `s3.access-key`). Never written to logs, errors "
        "or `inspect`.",
    .flink_key = "s3.secret-key"};
inline constexpr ConfigOption<MemorySize> kS3PartSize{
    .key = "s3.upload.part-size",
    .default_value = MemorySize{16 << 20},
    .description =
        "Bytes per part of a multipart upload; smaller files are one PUT; up to 4 parts of a file "
        "are uploaded at once.",
    .min = 5 << 20,
    .max = int64_t{1} << 32};
inline constexpr ConfigOption<int64_t> kS3MaxConnections{
    .key = "s3.max-connections",
    .default_value = 16,
    .description = "HTTP connections kept open to the endpoint, and S3 requests in flight at most.",
    .min = 1,
    .max = 1024};
inline constexpr ConfigOption<std::chrono::milliseconds> kS3RequestTimeout{
    .key = "s3.request-timeout",
    .default_value = std::chrono::minutes(2),
    .description =
        "Time limit of one S3 request (a transfer stalled below 1 KiB/s for 30 s ends sooner); it "
        "is then retried."};

// The options above, for the registry (src/config/option_registry.cc). Header-only: the
// registry needs no link dependency on this module.
inline std::vector<OptionDescriptor> S3Options() {
  return {Describe(kS3Endpoint),       Describe(kS3Region),        Describe(kS3PathStyle),
          Describe(kS3AccessKey),      Describe(kS3SecretKey),     Describe(kS3PartSize),
          Describe(kS3MaxConnections), Describe(kS3RequestTimeout)};
}

}  // namespace weir::config
