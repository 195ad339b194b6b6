// ThreadPool: a fixed number of threads running submitted tasks in FIFO order. Used as the I/O
// pool of checkpoint uploads and restores, and for deletions off the critical path.
// Submit() may be called from any thread. The destructor runs every task already submitted, then
// joins. Its threads carry `name` (common/thread_name.h).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace weir {

class ThreadPool {
 public:
  explicit ThreadPool(int threads, std::string name = "weir-pool");
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  template <typename F>
  auto Submit(F&& task) -> std::future<std::invoke_result_t<F>> {
    using R = std::invoke_result_t<F>;
    auto packaged = std::make_shared<std::packaged_task<R()>>(std::forward<F>(task));
    std::future<R> result = packaged->get_future();
    Enqueue([packaged] { (*packaged)(); });
    return result;
  }

  // Blocks until every task submitted so far has finished.
  void WaitIdle();
  int size() const { return static_cast<int>(threads_.size()); }

 private:
  void Enqueue(std::function<void()> task);
  void Work();

  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<std::function<void()>> queue_;
  int running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace weir
