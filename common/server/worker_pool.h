// A fixed set of worker threads draining one bounded FIFO queue. Scheduling
// never blocks: a full queue refuses the task, and the caller degrades (skips a
// source, or answers RESOURCE_EXHAUSTED) instead of queueing without bound.
//
//   WorkerPool pool(/*threads=*/4, /*queue_capacity=*/256);
//   if (!pool.TrySchedule([] { ... })) { /* overloaded: degrade */ }
//
// Threading: TrySchedule and the accessors are safe from any thread, including
// from a task. Tasks must not block waiting for other tasks of the same pool
// (with every worker waiting, nothing would run them).
// Shutdown: the destructor stops accepting work from outside the pool, runs every
// queued task (a task may still schedule follow-ups, which also run: requests in
// flight complete), then joins the threads.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace recsys {

class WorkerPool {
 public:
  // `threads` >= 1 workers; at most `queue_capacity` (>= 1) tasks wait at a time
  // (running tasks do not count). Values below 1 are raised to 1.
  WorkerPool(int threads, int queue_capacity);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task` and returns true, or returns false without running it when
  // queue_capacity tasks are already waiting (or the pool is shutting down and
  // the caller is not one of its tasks). Cost: one short lock.
  bool TrySchedule(std::function<void()> task);

  int threads() const { return static_cast<int>(threads_.size()); }
  int queue_capacity() const { return capacity_; }
  // Tasks waiting (not running) right now; a snapshot for tests and metrics.
  int queued() const;

 private:
  void Work();

  const int capacity_;
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace recsys
