#include "common/server/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"

namespace recsys {
namespace {

// Every scheduled task runs exactly once, on the pool's threads.
TEST(WorkerPoolTest, RunsEveryScheduledTask) {
  std::atomic<int> runs{0};
  absl::BlockingCounter done(100);
  {
    WorkerPool pool(3, 1000);
    EXPECT_EQ(pool.threads(), 3);
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(pool.TrySchedule([&] {
        runs.fetch_add(1);
        done.DecrementCount();
      }));
    }
    done.Wait();
  }
  EXPECT_EQ(runs.load(), 100);
}

// A full queue refuses a task at once instead of blocking the caller.
TEST(WorkerPoolTest, FullQueueRefusesWithoutBlocking) {
  absl::Notification release;
  absl::Notification started;
  auto pool = std::make_unique<WorkerPool>(1, 2);
  ASSERT_TRUE(pool->TrySchedule([&] {
    started.Notify();
    release.WaitForNotification();
  }));
  started.WaitForNotification();  // the worker is busy; the queue is empty
  std::atomic<int> runs{0};
  EXPECT_TRUE(pool->TrySchedule([&] { runs.fetch_add(1); }));
  EXPECT_TRUE(pool->TrySchedule([&] { runs.fetch_add(1); }));
  EXPECT_EQ(pool->queued(), 2);
  EXPECT_FALSE(pool->TrySchedule([&] { runs.fetch_add(100); }));
  release.Notify();
  pool.reset();  // drains the two queued tasks
  EXPECT_EQ(runs.load(), 2);
}

// Destruction runs queued tasks and their follow-ups, so requests in flight complete.
TEST(WorkerPoolTest, DestructorDrainsQueuedTasksAndFollowUps) {
  std::atomic<int> runs{0};
  absl::Notification release;
  auto pool = std::make_unique<WorkerPool>(1, 10);
  WorkerPool* raw = pool.get();
  ASSERT_TRUE(pool->TrySchedule([&] { release.WaitForNotification(); }));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(pool->TrySchedule([&runs, raw] {
      runs.fetch_add(1);
      EXPECT_TRUE(raw->TrySchedule([&runs] { runs.fetch_add(10); }));
    }));
  }
  release.Notify();
  pool.reset();
  EXPECT_EQ(runs.load(), 33);
}

// Thread and capacity values below 1 are raised to 1.
TEST(WorkerPoolTest, ClampsDegenerateSizes) {
  WorkerPool pool(0, 0);
  EXPECT_EQ(pool.threads(), 1);
  EXPECT_EQ(pool.queue_capacity(), 1);
}

// The worker pool runs every accepted task and refuses work beyond its queue.
TEST(WorkerPoolTest, BoundedQueueRunsEveryAcceptedTask) {
  std::atomic<int> ran{0};
  absl::Notification release;
  int accepted = 1;
  {
    WorkerPool pool(1, 2);
    ASSERT_TRUE(pool.TrySchedule([&] {
      release.WaitForNotification();
      ++ran;
    }));
    // The worker may or may not have taken the first task yet: fill the queue.
    while (pool.TrySchedule([&] { ++ran; })) ++accepted;
    // Queue of 2, plus the task the worker may already have taken.
    EXPECT_GE(accepted, 2);
    EXPECT_LE(accepted, 3);
    EXPECT_FALSE(pool.TrySchedule([&] { ++ran; }));
    release.Notify();
  }  // destruction drains the queue
  EXPECT_EQ(ran.load(), accepted);
}

}  // namespace
}  // namespace recsys
