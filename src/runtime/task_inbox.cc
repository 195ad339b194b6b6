#include "runtime/task_inbox.h"

namespace weir {

TaskInbox::TaskInbox(int num_channels, size_t channel_capacity)
    : capacity_(channel_capacity), channels_(static_cast<size_t>(num_channels)) {}

bool TaskInbox::Push(int channel, std::vector<StreamElement>* batch) {
  std::unique_lock<std::mutex> lock(mu_);
  auto& q = channels_[static_cast<size_t>(channel)];
  sender_cv_.wait(lock, [&] { return closed_ || q.size() < capacity_; });
  if (closed_) {
    batch->clear();
    return false;
  }
  const bool was_empty = q.empty();
  for (auto& e : *batch) q.push_back(std::move(e));
  batch->clear();
  if (was_empty) consumer_cv_.notify_one();
  return true;
}

void TaskInbox::Post(Mail mail) {
  std::lock_guard<std::mutex> lock(mu_);
  mailbox_.push_back(mail);
  consumer_cv_.notify_one();
}

void TaskInbox::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  consumer_cv_.notify_all();
  sender_cv_.notify_all();
}

bool TaskInbox::TakeElementsLocked(const std::vector<bool>& blocked, size_t max_elements,
                                   std::vector<StreamElement>* elements, int* channel) {
  const size_t n = channels_.size();
  for (size_t k = 0; k < n; ++k) {
    const size_t c = (next_channel_ + k) % n;
    auto& q = channels_[c];
    if (q.empty() || (c < blocked.size() && blocked[c])) continue;
    const bool was_full = q.size() >= capacity_;
    while (!q.empty() && elements->size() < max_elements) {
      const bool barrier = q.front().kind == StreamElement::Kind::kBarrier;
      elements->push_back(std::move(q.front()));
      q.pop_front();
      if (barrier) break;  // what follows may have to wait for the barrier's alignment
    }
    if (was_full) sender_cv_.notify_all();
    next_channel_ = (c + 1) % n;
    *channel = static_cast<int>(c);
    return true;
  }
  return false;
}

TaskInbox::Taken TaskInbox::Take(const std::vector<bool>& blocked, bool wait,
                                 std::optional<Clock::time_point> deadline, size_t max_elements,
                                 Mail* mail, std::vector<StreamElement>* elements, int* channel) {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (!mailbox_.empty()) {
      *mail = mailbox_.front();
      mailbox_.pop_front();
      return Taken::kMail;
    }
    if (closed_) return Taken::kClosed;
    if (TakeElementsLocked(blocked, max_elements, elements, channel)) return Taken::kElements;
    if (!wait) return Taken::kTimeout;
    if (deadline.has_value()) {
      if (consumer_cv_.wait_until(lock, *deadline) == std::cv_status::timeout) {
        // One last look: something may have arrived together with the deadline.
        if (mailbox_.empty() && !closed_) {
          if (TakeElementsLocked(blocked, max_elements, elements, channel)) {
            return Taken::kElements;
          }
          return Taken::kTimeout;
        }
      }
    } else {
      consumer_cv_.wait(lock);
    }
  }
}

size_t TaskInbox::QueuedElements() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& q : channels_) n += q.size();
  return n;
}

}  // namespace weir
