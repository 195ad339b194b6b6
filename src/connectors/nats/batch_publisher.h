// Publishes batches of a NATS sink on its own thread, in order, so that the sink's subtask keeps
// processing while the server acknowledges. A batch that cannot be published before its deadline
// stops the publisher; the error is reported to the subtask at its next call.
//
// Thread-safety: Enqueue, Drain, confirmed_through and error are called by the sink's subtask;
// the publishing happens on the publisher's thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "connectors/nats/nats_client.h"

namespace weir::nats {

struct OutgoingBatch {
  uint64_t checkpoint_id = 0;  // 0: not tied to a checkpoint (at-least-once)
  std::string id_prefix;       // message ids "<prefix>/<checkpoint>/<i>"; empty: no ids
  std::vector<std::string> records;
  // Empty: every record to the publisher's subject; otherwise record i to
  // "<subject>.<partitions[i]>".
  std::vector<int32_t> partitions;
};

class BatchPublisher {
 public:
  BatchPublisher(NatsClient& client, std::string subject, int64_t timeout_ms);
  ~BatchPublisher();  // abandons what is queued (a restore publishes it again)
  BatchPublisher(const BatchPublisher&) = delete;
  BatchPublisher& operator=(const BatchPublisher&) = delete;

  void Enqueue(std::shared_ptr<const OutgoingBatch> batch);
  // Waits until every queued batch is acknowledged; the first error, if any.
  Status Drain();
  // Batches are published in order: all with a checkpoint id up to this one are acknowledged.
  uint64_t confirmed_through() const;
  Status error() const;

 private:
  void Loop();

  NatsClient& client_;
  const std::string subject_;
  const int64_t timeout_ms_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<const OutgoingBatch>> queue_;
  bool busy_ = false;
  bool stop_ = false;
  std::atomic<bool> stop_requested_{false};  // ends a publish that is retrying
  uint64_t confirmed_through_ = 0;
  Status error_;
  std::thread thread_;
};

// Where the messages of `batch` go when published to `subject`.
BatchSubjects SubjectsOf(const OutgoingBatch& batch, const std::string& subject);

// The message ids of a batch.
std::vector<std::string> MessageIds(const OutgoingBatch& batch);

}  // namespace weir::nats
