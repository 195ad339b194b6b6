#include "connectors/nats/nats_client.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <random>
#include <thread>

#include "common/clock.h"
#include "common/log.h"
#include "common/retry.h"

namespace weir::nats {
namespace {

constexpr int64_t kNanosPerMs = 1000000;
// Outstanding asynchronous publishes before js_PublishAsync stalls.
constexpr int64_t kMaxPendingPublishes = 16384;
// A batch is published in chunks of this many messages, each acknowledged before the next: a lost
// acknowledgement then sends one chunk again, not the whole batch. (Sending a batch of 100,000
// again from its start after each stall kept a sink from ever finishing behind a server that had
// just restarted.)
constexpr size_t kPublishChunk = 8192;
// How long js_PublishAsync waits for acknowledgements when kMaxPendingPublishes are in flight
// before reporting a stall (the library's default, 200 ms, is less than a busy server's latency).
constexpr int64_t kStallWaitMs = 2000;

std::vector<std::string> Tokens(const std::string& subject) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t dot = subject.find('.', start);
    out.push_back(subject.substr(start, dot - start));
    if (dot == std::string::npos) return out;
    start = dot + 1;
  }
}

StreamView ToView(const jsStreamInfo& si) {
  StreamView v;
  v.name = si.Config->Name ? si.Config->Name : "";
  for (int i = 0; i < si.Config->SubjectsLen; ++i) v.subjects.push_back(si.Config->Subjects[i]);
  v.duplicate_window_ms = si.Config->Duplicates / kNanosPerMs;
  v.last_sequence = si.State.LastSeq;
  v.messages = si.State.Msgs;
  return v;
}

}  // namespace

Status ToStatus(natsStatus s, jsErrCode jerr, const std::string& what) {
  if (s == NATS_OK) return Status::OK();
  std::string text = natsStatus_GetText(s);
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  if (detail != nullptr && *detail != '\0' && last == s &&
      std::string_view(detail).find(text) == std::string_view::npos) {
    text += std::string(" (") + detail + ")";
  }
  if (jerr != 0) text += " [JetStream error " + std::to_string(static_cast<int>(jerr)) + "]";
  const std::string message = what + ": " + text;
  switch (s) {
    case NATS_NOT_FOUND:
      return Status::NotFound(message);
    case NATS_IO_ERROR:
    case NATS_CONNECTION_CLOSED:
    case NATS_NO_SERVER:
    case NATS_STALE_CONNECTION:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_TIMEOUT:
    case NATS_NOT_YET_CONNECTED:
    case NATS_NO_RESPONDERS:  // JetStream not ready yet, right after a server (re)start
    case NATS_SLOW_CONSUMER:
    case NATS_MISSED_HEARTBEAT:
    case NATS_INSUFFICIENT_BUFFER:  // the reconnect buffer is full while disconnected
      return Status::IOError(message, /*retryable=*/true);
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
      return Status::InvalidArgument(message);
    default:
      return Status::IOError(message);
  }
}

bool SubjectCovers(const std::string& filter, const std::string& subject) {
  const auto f = Tokens(filter);
  const auto s = Tokens(subject);
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] == ">") return i < s.size();
    if (i >= s.size()) return false;
    if (f[i] == "*") {
      if (s[i] == ">") return false;
      continue;
    }
    if (f[i] != s[i]) return false;
  }
  return f.size() == s.size();
}

Result<std::unique_ptr<NatsClient>> NatsClient::Connect(const std::string& url, std::string who) {
  std::unique_ptr<NatsClient> client(new NatsClient(url, std::move(who)));
  WEIR_RETURN_IF_ERROR(
      RetryRetryable(client->who_ + ": connect to " + url, [&] { return client->Open(); }));
  return client;
}

Status NatsClient::Open() {
  if (connection_ != nullptr) return Status::OK();
  const std::string what = who_ + ": cannot connect to NATS server " + url_;
  if (options_ == nullptr) {
    natsStatus s = natsOptions_Create(&options_);
    if (s == NATS_OK) s = natsOptions_SetURL(options_, url_.c_str());
    if (s == NATS_OK) s = natsOptions_SetTimeout(options_, 2000);
    // Once connected, reconnect forever with a short wait: a restarted server is back in well
    // under a second, and the readers and publishers resume where they were.
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(options_, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(options_, 100);
    if (s == NATS_OK) s = natsOptions_SetReconnectJitter(options_, 100, 100);
    if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(options_, 64 * 1024 * 1024);
    if (s == NATS_OK) s = natsOptions_SetReconnectedCB(options_, &NatsClient::OnReconnected, this);
    if (s != NATS_OK) return ToStatus(s, static_cast<jsErrCode>(0), what);
  }
  natsStatus s = natsConnection_Connect(&connection_, options_);
  if (s != NATS_OK) {
    connection_ = nullptr;
    return ToStatus(s, static_cast<jsErrCode>(0), what);
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 5000;
  jo.PublishAsync.MaxPending = kMaxPendingPublishes;
  jo.PublishAsync.StallWait = kStallWaitMs;
  jo.PublishAsync.ErrHandler = &NatsClient::OnPublishError;
  jo.PublishAsync.ErrHandlerClosure = this;
  s = natsConnection_JetStream(&js_, connection_, &jo);
  return ToStatus(s, static_cast<jsErrCode>(0), who_ + ": JetStream context on " + url_);
}

NatsClient::~NatsClient() {
  if (js_ != nullptr) jsCtx_Destroy(js_);
  if (connection_ != nullptr) {
    natsConnection_Close(connection_);
    natsConnection_Destroy(connection_);
  }
  if (options_ != nullptr) natsOptions_Destroy(options_);
}

void NatsClient::OnReconnected(natsConnection*, void* closure) {
  static_cast<NatsClient*>(closure)->reconnects_.fetch_add(1);
}

void NatsClient::OnPublishError(jsCtx*, jsPubAckErr* pae, void* closure) {
  auto* self = static_cast<NatsClient*>(closure);
  self->publish_errors_.fetch_add(1);
  self->last_publish_error_.store(static_cast<int>(pae->Err));
}

Result<StreamView> NatsClient::GetStream(const std::string& stream) {
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, js_, stream.c_str(), nullptr, &jerr);
  if (s != NATS_OK) {
    if (jerr == JSStreamNotFoundErr || s == NATS_NOT_FOUND) {
      return Status::NotFound(who_ + ": stream " + stream + " does not exist on " + url_);
    }
    return ToStatus(s, jerr, who_ + ": stream " + stream + " on " + url_);
  }
  StreamView v = ToView(*si);
  jsStreamInfo_Destroy(si);
  return v;
}

Result<StreamView> NatsClient::EnsureStream(const StreamSpec& spec) {
  auto existing = GetStream(spec.name);
  if (existing.ok() || existing.status().code() != StatusCode::kNotFound) return existing;
  std::vector<const char*> subjects;
  for (const auto& s : spec.subjects) subjects.push_back(s.c_str());
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = spec.name.c_str();
  cfg.Subjects = subjects.data();
  cfg.SubjectsLen = static_cast<int>(subjects.size());
  cfg.Storage = js_FileStorage;
  if (spec.duplicate_window_ms > 0) cfg.Duplicates = spec.duplicate_window_ms * kNanosPerMs;
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_AddStream(&si, js_, &cfg, nullptr, &jerr);
  if (s != NATS_OK) {
    // Another subtask or process created it first.
    if (jerr == JSStreamNameExistErr) return GetStream(spec.name);
    return ToStatus(s, jerr, who_ + ": cannot create stream " + spec.name + " on " + url_);
  }
  StreamView v = ToView(*si);
  jsStreamInfo_Destroy(si);
  LogInfo(who_ + ": created stream " + spec.name + " on " + url_);
  return v;
}

Result<uint64_t> NatsClient::LastSequenceOf(const std::string& stream, const std::string& subject) {
  natsMsg* msg = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetLastMsg(&msg, js_, stream.c_str(), subject.c_str(), nullptr, &jerr);
  if (s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) return uint64_t{0};
  if (s != NATS_OK) {
    return ToStatus(s, jerr, who_ + ": last message of " + subject + " in stream " + stream);
  }
  const uint64_t seq = natsMsg_GetSequence(msg);
  natsMsg_Destroy(msg);
  return seq;
}

void NatsClient::DropPendingPublishes() {
  natsMsgList lost;
  if (js_PublishAsyncGetPendingList(&lost, js_) == NATS_OK) natsMsgList_Destroy(&lost);
}

Status NatsClient::PublishRound(const BatchSubjects& subjects,
                                const std::vector<std::string>& payloads,
                                const std::vector<std::string>& ids, size_t begin, size_t end,
                                int64_t wait_ms, const std::atomic<bool>* cancel) {
  const std::string what = who_ + ": publish to " + subjects.Describe() + " on " + url_;
  publish_errors_.store(0);
  jsPubOptions po;
  jsPubOptions_Init(&po);
  for (size_t i = begin; i < end; ++i) {
    po.MsgId = ids.empty() ? nullptr : ids[i].c_str();
    natsStatus s = js_PublishAsync(js_, subjects.Of(i).c_str(), payloads[i].data(),
                                   static_cast<int>(payloads[i].size()), &po);
    if (s != NATS_OK) {
      // Stalled: acknowledgements lost with a dropped connection never come, and the messages
      // still counted as pending would stall every later round. Forget them: the whole batch
      // is sent again (its message ids make the stream drop what it already has).
      DropPendingPublishes();
      return ToStatus(s, static_cast<jsErrCode>(0), what);
    }
  }
  // Wait in short steps: acknowledgements in flight when the connection dropped never come, and
  // a reconnection means the batch is better sent again at once than after the full wait.
  const uint64_t reconnects_before = reconnects_.load();
  const int64_t wait_until = NowSteadyMs() + wait_ms;
  jsPubOptions wait;
  jsPubOptions_Init(&wait);
  wait.MaxWait = 100;
  natsStatus s = NATS_TIMEOUT;
  while (true) {
    s = js_PublishAsyncComplete(js_, &wait);
    if (s != NATS_TIMEOUT || reconnects_.load() != reconnects_before ||
        NowSteadyMs() >= wait_until) {
      break;
    }
    if (cancel != nullptr && cancel->load()) {
      DropPendingPublishes();
      return Status::Aborted(what + ": cancelled while waiting for acknowledgements");
    }
  }
  if (s != NATS_OK) {
    DropPendingPublishes();
    return ToStatus(s, static_cast<jsErrCode>(0), what + " (waiting for acknowledgements)");
  }
  if (const uint64_t errors = publish_errors_.load(); errors > 0) {
    const auto err = static_cast<natsStatus>(last_publish_error_.load());
    Status st = ToStatus(err, static_cast<jsErrCode>(0),
                         what + ": " + std::to_string(errors) + " messages refused");
    // A message the stream refused for a reason that lasts (no stream for the subject, too big)
    // would be refused again.
    return err == NATS_TIMEOUT || err == NATS_NO_RESPONDERS || st.retryable()
               ? Status::IOError(st.message(), true)
               : st;
  }
  return Status::OK();
}

BatchSubjects::BatchSubjects(std::string base, const std::vector<int32_t>* partitions)
    : base_(std::move(base)), partitions_(partitions) {
  if (partitions_ == nullptr) return;
  int32_t most = -1;
  for (int32_t p : *partitions_) most = std::max(most, p);
  for (int32_t p = 0; p <= most; ++p) by_partition_.push_back(base_ + "." + std::to_string(p));
}

const std::string& BatchSubjects::Of(size_t i) const {
  if (partitions_ == nullptr) return base_;
  return by_partition_[static_cast<size_t>((*partitions_)[i])];
}

std::string BatchSubjects::Describe() const {
  return partitions_ == nullptr ? base_ : base_ + ".*";
}

Status NatsClient::PublishAll(const BatchSubjects& subjects,
                              const std::vector<std::string>& payloads,
                              const std::vector<std::string>& ids, int64_t deadline_ms,
                              const std::atomic<bool>* cancel) {
  const std::string subject = subjects.Describe();
  std::mt19937_64 rng(std::random_device{}());
  for (size_t begin = 0; begin < payloads.size(); begin += kPublishChunk) {
    if (cancel != nullptr && cancel->load()) {
      return Status::Aborted(who_ + ": publish to " + subject + " cancelled after " +
                             std::to_string(begin) + " of " + std::to_string(payloads.size()) +
                             " messages");
    }
    const size_t end = std::min(payloads.size(), begin + kPublishChunk);
    int64_t backoff_ms = 50;
    for (int attempt = 1;; ++attempt) {
      Status s = PublishRound(subjects, payloads, ids, begin, end, 10000, cancel);
      if (s.ok()) break;
      const bool cancelled = cancel != nullptr && cancel->load();
      if (!s.retryable() || cancelled || NowSteadyMs() >= deadline_ms) return s;
      LogWarn(s.message() + "; publishing messages " + std::to_string(begin) + ".." +
              std::to_string(end) + " of the batch of " + std::to_string(payloads.size()) +
              " again (attempt " + std::to_string(attempt + 1) + ")");
      const int64_t jitter = static_cast<int64_t>(rng() % static_cast<uint64_t>(backoff_ms));
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms / 2 + jitter));
      backoff_ms = std::min<int64_t>(backoff_ms * 2, 2000);
    }
  }
  return Status::OK();
}

Result<std::unique_ptr<SubjectReader>> SubjectReader::Open(NatsClient& client,
                                                           const std::string& stream,
                                                           const std::string& subject,
                                                           uint64_t after_sequence) {
  std::unique_ptr<SubjectReader> reader(new SubjectReader(client, subject));
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Ordered = true;
  if (after_sequence > 0) {
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = after_sequence + 1;
  } else {
    so.Config.DeliverPolicy = js_DeliverAll;
  }
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s =
      js_SubscribeSync(&reader->subscription_, client.js(), subject.c_str(), nullptr, &so, &jerr);
  if (s != NATS_OK) {
    reader->subscription_ = nullptr;
    return ToStatus(s, jerr,
                    client.who() + ": cannot read " + subject + " of stream " + stream + " after " +
                        std::to_string(after_sequence));
  }
  // Room for the ordered consumer's flow-controlled bursts.
  (void)natsSubscription_SetPendingLimits(reader->subscription_, 1 << 20, 256 << 20);
  return reader;
}

SubjectReader::~SubjectReader() {
  if (subscription_ != nullptr) {
    (void)natsSubscription_Unsubscribe(subscription_);
    natsSubscription_Destroy(subscription_);
  }
}

Result<std::optional<StreamMessage>> SubjectReader::Next(int64_t timeout_ms) {
  natsMsg* msg = nullptr;
  natsStatus s = natsSubscription_NextMsg(&msg, subscription_, timeout_ms);
  if (s == NATS_TIMEOUT) return std::optional<StreamMessage>();
  if (s != NATS_OK) {
    return ToStatus(s, static_cast<jsErrCode>(0), client_.who() + ": reading " + subject_);
  }
  jsMsgMetaData* meta = nullptr;
  s = natsMsg_GetMetaData(&meta, msg);
  if (s != NATS_OK) {
    natsMsg_Destroy(msg);
    return ToStatus(s, static_cast<jsErrCode>(0),
                    client_.who() + ": a message of " + subject_ + " has no JetStream metadata");
  }
  StreamMessage out;
  out.subject = natsMsg_GetSubject(msg);
  out.sequence = meta->Sequence.Stream;
  out.payload.assign(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
  if (read_headers_) {
    const char** keys = nullptr;
    int count = 0;
    if (natsMsgHeader_Keys(msg, &keys, &count) == NATS_OK) {
      for (int k = 0; k < count; ++k) {
        const char** values = nullptr;
        int n = 0;
        if (natsMsgHeader_Values(msg, keys[k], &values, &n) != NATS_OK) continue;
        for (int v = 0; v < n; ++v) out.headers.emplace_back(keys[k], values[v]);
        free(values);
      }
      free(keys);
    }
  }
  jsMsgMetaData_Destroy(meta);
  natsMsg_Destroy(msg);
  return std::optional<StreamMessage>(std::move(out));
}

}  // namespace weir::nats
