#include "connectors/nats/repartition_stream.h"

#include <algorithm>
#include <charconv>

namespace weir::nats {
namespace {

bool StreamNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

bool ParseInt(std::string_view s, int* out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty() && *out >= 0;
}

}  // namespace

Result<std::string> RepartitionStreamName(const Configuration& config, const std::string& job_id,
                                          const std::string& name) {
  const std::string job(config.Get(config::kClusterJob));
  // A job name may hold '.' (etcd keys, directories), a stream name may not.
  std::string stream = (job.empty() ? job_id : job) + "-" + name;
  std::replace(stream.begin(), stream.end() - static_cast<std::ptrdiff_t>(name.size()), '.', '_');
  constexpr size_t kMaxStreamName = 200;
  const bool ok = !name.empty() && stream.size() <= kMaxStreamName &&
                  std::all_of(stream.begin(), stream.end(), StreamNameChar);
  if (!ok) {
    return Status::InvalidArgument("repartition '" + name.substr(0, 100) + "': its stream name '" +
                                   stream.substr(0, 100) + "' (<" +
                                   (job.empty() ? "job id" : std::string(config::kClusterJob)) +
                                   ">-<name>) must be 1 to 200 letters, digits, '_' or '-'");
  }
  return stream;
}

StreamSpec RepartitionStreamSpec(const std::string& stream, int64_t duplicate_window_ms) {
  return StreamSpec{stream, {stream + ".*"}, duplicate_window_ms};
}

std::string RecordMessage(std::string_view record) {
  std::string m;
  m.reserve(record.size() + 1);
  m.push_back('R');
  m.append(record);
  return m;
}

std::string EndMarkerMessage(const EndMarker& marker) {
  return "E" + std::to_string(marker.shard) + "/" + std::to_string(marker.subtask) + "/" +
         std::to_string(marker.parallelism);
}

Result<RepartitionMessage> ParseRepartitionMessage(std::string_view payload, int shards,
                                                   const std::string& what) {
  RepartitionMessage m;
  if (!payload.empty() && payload.front() == 'R') {
    m.record = payload.substr(1);
    return m;
  }
  if (!payload.empty() && payload.front() == 'E') {
    m.end = true;
    const std::string_view body = payload.substr(1);
    const size_t a = body.find('/');
    const size_t b = a == std::string_view::npos ? a : body.find('/', a + 1);
    EndMarker& e = m.marker;
    if (b != std::string_view::npos && ParseInt(body.substr(0, a), &e.shard) &&
        ParseInt(body.substr(a + 1, b - a - 1), &e.subtask) &&
        ParseInt(body.substr(b + 1), &e.parallelism) && e.shard < shards && e.parallelism >= 1 &&
        e.subtask < e.parallelism) {
      return m;
    }
    return Status::Corruption(what + ": end marker '" + std::string(body.substr(0, 40)) +
                              "' is not <shard>/<subtask>/<parallelism> of a job with " +
                              std::to_string(shards) + " shards");
  }
  return Status::Corruption(what +
                            ": not a repartition message (it starts with neither 'R' nor "
                            "'E'): was the stream written by something else?");
}

}  // namespace weir::nats
