// A fixed set of threads draining a bounded queue. TrySubmit never blocks: when
// the queue is full it returns false and the caller refuses the work
// (RESOURCE_EXHAUSTED) instead of queueing without bound.
#pragma once

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace recsys::gateway {

class WorkerPool {
 public:
  WorkerPool(int threads, size_t max_queue);
  // Runs every queued task, then joins the threads.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  bool TrySubmit(std::function<void()> task);
  size_t queued() const;

 private:
  void Loop();
  const size_t max_queue_;
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace recsys::gateway
