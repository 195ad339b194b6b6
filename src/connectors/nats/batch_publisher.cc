#include "connectors/nats/batch_publisher.h"

#include <algorithm>

#include "common/clock.h"

namespace weir::nats {

std::vector<std::string> MessageIds(const OutgoingBatch& batch) {
  std::vector<std::string> ids;
  if (batch.id_prefix.empty()) return ids;
  ids.reserve(batch.records.size());
  const std::string base = batch.id_prefix + "/" + std::to_string(batch.checkpoint_id) + "/";
  for (size_t i = 0; i < batch.records.size(); ++i) ids.push_back(base + std::to_string(i));
  return ids;
}

BatchSubjects SubjectsOf(const OutgoingBatch& batch, const std::string& subject) {
  return BatchSubjects(subject, batch.partitions.empty() ? nullptr : &batch.partitions);
}

BatchPublisher::BatchPublisher(NatsClient& client, std::string subject, int64_t timeout_ms)
    : client_(client), subject_(std::move(subject)), timeout_ms_(timeout_ms) {
  thread_ = std::thread([this] { Loop(); });
}

BatchPublisher::~BatchPublisher() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  stop_requested_ = true;
  cv_.notify_all();
  thread_.join();
}

void BatchPublisher::Enqueue(std::shared_ptr<const OutgoingBatch> batch) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(batch));
  }
  cv_.notify_all();
}

Status BatchPublisher::Drain() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return (queue_.empty() && !busy_) || !error_.ok(); });
  return error_;
}

uint64_t BatchPublisher::confirmed_through() const {
  std::lock_guard lock(mu_);
  return confirmed_through_;
}

Status BatchPublisher::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

void BatchPublisher::Loop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || (!queue_.empty() && error_.ok()); });
    if (stop_) return;
    std::shared_ptr<const OutgoingBatch> batch = queue_.front();
    busy_ = true;
    lock.unlock();
    Status s = client_.PublishAll(SubjectsOf(*batch, subject_), batch->records, MessageIds(*batch),
                                  NowSteadyMs() + timeout_ms_, &stop_requested_);
    lock.lock();
    busy_ = false;
    queue_.pop_front();
    if (s.ok()) {
      confirmed_through_ = std::max(confirmed_through_, batch->checkpoint_id);
    } else if (error_.ok()) {
      error_ = std::move(s);
    }
    cv_.notify_all();
  }
}

}  // namespace weir::nats
