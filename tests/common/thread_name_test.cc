#include "common/thread_name.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <future>

#include "common/thread_pool.h"

namespace weir {
namespace {

std::string CurrentThreadName() {
  char name[16] = {};
  EXPECT_EQ(pthread_getname_np(pthread_self(), name, sizeof(name)), 0);
  return name;
}

TEST(ThreadNameTest, ShortTaskIdsAreKeptWhole) {
  EXPECT_EQ(TaskThreadName("events#0"), "task:events#0");
}

TEST(ThreadNameTest, LongTaskIdsLoseTheirUidsTailNotTheSubtask) {
  EXPECT_EQ(TaskThreadName("aggregate-per-key#12"), "task:aggrega#12");
  EXPECT_EQ(TaskThreadName("aggregate-per-key#12").size(), 15u);
  EXPECT_EQ(TaskThreadName("no-subtask-in-this-id"), "task:no-subtask");
}

TEST(ThreadNameTest, PoolThreadsCarryThePoolsName) {
  ThreadPool pool(2, "weir-io");
  EXPECT_EQ(pool.Submit([] { return CurrentThreadName(); }).get(), "weir-io");
}

TEST(ThreadNameTest, NamesLongerThanLinuxKeepsAreCut) {
  std::string seen = std::async(std::launch::async, [] {
                       SetCurrentThreadName("a-name-longer-than-fifteen");
                       return CurrentThreadName();
                     }).get();
  EXPECT_EQ(seen, "a-name-longer-t");
}

}  // namespace
}  // namespace weir
