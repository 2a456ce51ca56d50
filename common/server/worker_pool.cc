#include "common/server/worker_pool.h"

#include <algorithm>
#include <utility>

namespace recsys {
namespace {

// Set while a thread runs a pool task: tasks may schedule follow-ups during
// shutdown so the requests they serve complete.
thread_local const WorkerPool* current_pool = nullptr;

}  // namespace

WorkerPool::WorkerPool(int threads, int queue_capacity) : capacity_(std::max(1, queue_capacity)) {
  threads = std::max(1, threads);
  threads_.reserve(threads);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

WorkerPool::~WorkerPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

bool WorkerPool::TrySchedule(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  if (stopping_ && current_pool != this) return false;
  if (static_cast<int>(queue_.size()) >= capacity_) return false;
  queue_.push_back(std::move(task));
  return true;
}

int WorkerPool::queued() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(queue_.size());
}

void WorkerPool::Work() {
  current_pool = this;
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || stopping_; };
      mu_.Await(absl::Condition(&ready));
      // Exit only once drained: queued tasks finish requests in flight.
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace recsys
