// A thin owner of one NATS connection and its JetStream context (libnats), shared by the NATS
// source, the NATS sink and `weir nats produce|dump`. It turns libnats' status codes into weir
// Status values (connection loss and timeouts are retryable) and keeps the few stream calls the
// connectors need. After the first connection, libnats reconnects by itself, forever; callers see
// each reconnection in reconnects().
//
// Thread-safety: libnats' connection is thread-safe; one NatsClient is used by one subtask.
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weir/status.h"

namespace weir::nats {

// What the connectors read of a stream's configuration and state.
struct StreamView {
  std::string name;
  std::vector<std::string> subjects;
  int64_t duplicate_window_ms = 0;
  uint64_t last_sequence = 0;
  uint64_t messages = 0;
};

// The duplicate window of a stream weir creates for exactly-once publishing, unless the job needs
// a longer one (NatsRequiredDuplicateWindowMs): the sink and both sides of a repartition stream
// create it with the same.
inline constexpr int64_t kDefaultDuplicateWindowMs = 2 * 60 * 1000;
// The sources' pace when a subject has nothing new, and their longest wait after an error.
inline constexpr int64_t kIdlePollMs = 2;
inline constexpr int64_t kMaxBackoffMs = 5000;

struct StreamSpec {
  std::string name;
  std::vector<std::string> subjects;
  int64_t duplicate_window_ms = 0;  // 0: the server's default (2 min)
};

// Where the messages of a batch go: all to `base`, or message i to "<base>.<partitions[i]>" when
// partitions are given (a repartition stream's subject per shard).
class BatchSubjects {
 public:
  explicit BatchSubjects(std::string base, const std::vector<int32_t>* partitions = nullptr);
  const std::string& Of(size_t i) const;
  // The whole batch, for errors: the base, or "<base>.*".
  std::string Describe() const;

 private:
  std::string base_;
  const std::vector<int32_t>* partitions_;
  std::vector<std::string> by_partition_;  // "<base>.<p>" for every p that occurs
};

// One message of a stream, as a reader hands it out.
struct StreamMessage {
  std::string subject;
  uint64_t sequence = 0;
  std::string payload;
  // (name, value) of every header, in the message's order; filled only by a reader asked to
  // (SubjectReader::ReadHeaders): the sources do not pay for them.
  std::vector<std::pair<std::string, std::string>> headers;
};

// libnats' status (and JetStream error code) as a Status naming `what`.
Status ToStatus(natsStatus s, jsErrCode jerr, const std::string& what);

// True when `filter` (a subject that may hold '*' and '>') matches every subject `subject` can
// stand for.
bool SubjectCovers(const std::string& filter, const std::string& subject);

class NatsClient {
 public:
  // Connects to `url` (retrying a few times); `who` names the caller in errors ("nats source
  // 'events'").
  static Result<std::unique_ptr<NatsClient>> Connect(const std::string& url, std::string who);
  ~NatsClient();
  NatsClient(const NatsClient&) = delete;
  NatsClient& operator=(const NatsClient&) = delete;

  const std::string& url() const { return url_; }
  const std::string& who() const { return who_; }
  jsCtx* js() { return js_; }
  uint64_t reconnects() const { return reconnects_.load(); }

  // NotFound when the stream does not exist.
  Result<StreamView> GetStream(const std::string& stream);
  // Creates the stream unless it exists (file storage); returns what the server has.
  Result<StreamView> EnsureStream(const StreamSpec& spec);
  // Stream sequence of the last message of `subject` in `stream` (0: none).
  Result<uint64_t> LastSequenceOf(const std::string& stream, const std::string& subject);

  // Publishes payloads[i] to `subject` with message id ids[i] (empty ids: none), in order, chunk
  // by chunk: waits for every acknowledgement of a chunk and repeats the chunk with backoff while
  // any is lost or refused for a retryable reason — duplicates are dropped by the stream through
  // the ids — until `deadline_ms` (steady clock) has passed or `*cancel` is set. A cancel also
  // ends the batch between chunks and the wait for a chunk's acknowledgements (Aborted): a
  // cancelled job's batch is published again by whoever restores its checkpoint, so nothing is
  // gained by finishing it, and a graceful handoff waits for the cancellation.
  Status PublishAll(const std::string& subject, const std::vector<std::string>& payloads,
                    const std::vector<std::string>& ids, int64_t deadline_ms,
                    const std::atomic<bool>* cancel = nullptr) {
    return PublishAll(BatchSubjects(subject), payloads, ids, deadline_ms, cancel);
  }
  // The same, each message to its own subject.
  Status PublishAll(const BatchSubjects& subjects, const std::vector<std::string>& payloads,
                    const std::vector<std::string>& ids, int64_t deadline_ms,
                    const std::atomic<bool>* cancel = nullptr);

 private:
  NatsClient(std::string url, std::string who) : url_(std::move(url)), who_(std::move(who)) {}
  Status Open();
  // Forgets the asynchronous publishes still awaiting an acknowledgement (js_PublishAsync
  // would stall on them).
  void DropPendingPublishes();
  // One attempt at payloads[begin, end).
  Status PublishRound(const BatchSubjects& subjects, const std::vector<std::string>& payloads,
                      const std::vector<std::string>& ids, size_t begin, size_t end,
                      int64_t wait_ms, const std::atomic<bool>* cancel);
  static void OnReconnected(natsConnection*, void* closure);
  static void OnPublishError(jsCtx*, jsPubAckErr* pae, void* closure);

  std::string url_;
  std::string who_;
  natsOptions* options_ = nullptr;
  natsConnection* connection_ = nullptr;
  jsCtx* js_ = nullptr;
  std::atomic<uint64_t> reconnects_{0};
  std::atomic<uint64_t> publish_errors_{0};
  std::atomic<int> last_publish_error_{0};
};

// Reads one subject of a stream in order, from just after a stream sequence, through an ordered
// consumer (server-side flow control; libnats re-creates it on a gap).
class SubjectReader {
 public:
  static Result<std::unique_ptr<SubjectReader>> Open(NatsClient& client, const std::string& stream,
                                                     const std::string& subject,
                                                     uint64_t after_sequence);
  ~SubjectReader();
  SubjectReader(const SubjectReader&) = delete;
  SubjectReader& operator=(const SubjectReader&) = delete;

  // The next message, waiting at most `timeout_ms` (0: only what has arrived); nullopt if none.
  Result<std::optional<StreamMessage>> Next(int64_t timeout_ms);
  // Whether Next() fills StreamMessage::headers (off by default).
  void ReadHeaders(bool on) { read_headers_ = on; }

 private:
  SubjectReader(NatsClient& client, std::string subject)
      : client_(client), subject_(std::move(subject)) {}
  NatsClient& client_;
  std::string subject_;
  natsSubscription* subscription_ = nullptr;
  bool read_headers_ = false;
};

}  // namespace weir::nats
