#include "runtime/task_inbox.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace weir {
namespace {

std::vector<StreamElement> Records(int n) {
  std::vector<StreamElement> v;
  for (int i = 0; i < n; ++i) {
    StreamElement e;
    e.value = i;
    v.push_back(std::move(e));
  }
  return v;
}

TEST(TaskInboxTest, FullChannelBlocksTheSenderUntilTheTaskTakes) {
  TaskInbox inbox(1, 4);
  auto batch = Records(4);
  ASSERT_TRUE(inbox.Push(0, &batch));
  std::atomic<bool> pushed{false};
  std::thread sender([&] {
    auto more = Records(1);
    EXPECT_TRUE(inbox.Push(0, &more));
    pushed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(pushed.load());  // backpressure: the channel is full
  Mail mail;
  std::vector<StreamElement> got;
  int channel = -1;
  ASSERT_EQ(inbox.Take({false}, true, std::nullopt, 10, &mail, &got, &channel),
            TaskInbox::Taken::kElements);
  EXPECT_EQ(got.size(), 4u);
  sender.join();
  EXPECT_TRUE(pushed.load());
}

TEST(TaskInboxTest, CloseReleasesBlockedSendersAndTheTask) {
  TaskInbox inbox(1, 1);
  auto batch = Records(1);
  ASSERT_TRUE(inbox.Push(0, &batch));
  std::thread sender([&] {
    auto more = Records(1);
    EXPECT_FALSE(inbox.Push(0, &more));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  inbox.Close();
  sender.join();
  Mail mail;
  std::vector<StreamElement> got;
  int channel;
  EXPECT_EQ(inbox.Take({false}, true, std::nullopt, 10, &mail, &got, &channel),
            TaskInbox::Taken::kClosed);
}

TEST(TaskInboxTest, MailComesFirstAndTakingStopsAfterABarrier) {
  TaskInbox inbox(2, 100);
  auto batch = Records(2);
  batch.push_back(StreamElement::Barrier(3, nullptr));
  auto tail = Records(2);
  for (auto& e : tail) batch.push_back(std::move(e));
  ASSERT_TRUE(inbox.Push(0, &batch));
  inbox.Post({Mail::Kind::kCheckpointComplete, 2});
  Mail mail;
  std::vector<StreamElement> got;
  int channel = -1;
  ASSERT_EQ(inbox.Take({false, false}, false, std::nullopt, 100, &mail, &got, &channel),
            TaskInbox::Taken::kMail);
  EXPECT_EQ(mail.checkpoint_id, 2u);
  ASSERT_EQ(inbox.Take({false, false}, false, std::nullopt, 100, &mail, &got, &channel),
            TaskInbox::Taken::kElements);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got.back().kind, StreamElement::Kind::kBarrier);
  got.clear();
  // A blocked channel is not read.
  EXPECT_EQ(inbox.Take({true, false}, false, std::nullopt, 100, &mail, &got, &channel),
            TaskInbox::Taken::kTimeout);
  EXPECT_EQ(inbox.Take({false, false}, false, std::nullopt, 100, &mail, &got, &channel),
            TaskInbox::Taken::kElements);
  EXPECT_EQ(got.size(), 2u);
}

TEST(TaskInboxTest, WaitEndsAtTheDeadline) {
  TaskInbox inbox(1, 10);
  Mail mail;
  std::vector<StreamElement> got;
  int channel;
  const auto deadline = TaskInbox::Clock::now() + std::chrono::milliseconds(10);
  EXPECT_EQ(inbox.Take({false}, true, deadline, 10, &mail, &got, &channel),
            TaskInbox::Taken::kTimeout);
  EXPECT_GE(TaskInbox::Clock::now(), deadline);
}

}  // namespace
}  // namespace weir
