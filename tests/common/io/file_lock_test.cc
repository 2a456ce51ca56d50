#include "common/io/file_lock.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace recsys {
namespace {

namespace fs = std::filesystem;

class FileLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = ::testing::TempDir() + "file_lock_test-XXXXXX";
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    path_ = dir_ + "/LOCK";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string dir_;
  std::string path_;
};

// A held lock makes TryAcquire report "taken" (also within one process); releasing frees it.
TEST_F(FileLockTest, TryAcquireSeesAHeldLock) {
  {
    auto held = FileLock::Acquire(path_);
    ASSERT_TRUE(held.ok()) << held.status();
    EXPECT_EQ(held->path(), path_);
    EXPECT_TRUE(fs::exists(path_));  // created on demand
    auto second = FileLock::TryAcquire(path_);
    ASSERT_TRUE(second.ok()) << second.status();
    EXPECT_FALSE(second->has_value());
  }
  auto after = FileLock::TryAcquire(path_);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(after->has_value());
  EXPECT_TRUE(fs::exists(path_));  // the lock file stays
}

// Another process cannot take a lock this process holds.
TEST_F(FileLockTest, ExcludesOtherProcesses) {
  auto held = FileLock::Acquire(path_);
  ASSERT_TRUE(held.ok()) << held.status();
  const std::string path = path_;
  const pid_t pid = ::fork();
  if (pid == 0) {
    auto other = FileLock::TryAcquire(path);
    ::_exit(!other.ok() ? 2 : other->has_value() ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// A blocking Acquire waits until the holder releases, and a moved lock stays held.
TEST_F(FileLockTest, AcquireBlocksUntilReleased) {
  auto first = FileLock::Acquire(path_);
  ASSERT_TRUE(first.ok()) << first.status();
  std::optional<FileLock> holder(std::move(*first));  // moving keeps the lock
  std::atomic<bool> acquired{false};
  std::thread waiter([&] {
    auto second = FileLock::Acquire(path_);
    EXPECT_TRUE(second.ok()) << second.status();
    acquired.store(true);
  });
  auto probe = FileLock::TryAcquire(path_);
  ASSERT_TRUE(probe.ok());
  EXPECT_FALSE(probe->has_value());  // still held after the move
  EXPECT_FALSE(acquired.load());
  holder.reset();
  waiter.join();
  EXPECT_TRUE(acquired.load());
}

// A lock file in a missing directory is an error naming it; nothing is created.
TEST_F(FileLockTest, MissingDirectoryIsAnError) {
  const std::string path = dir_ + "/missing/LOCK";
  auto a = FileLock::Acquire(path);
  EXPECT_TRUE(absl::IsInternal(a.status())) << a.status();
  EXPECT_NE(a.status().message().find(path), std::string::npos) << a.status();
  auto t = FileLock::TryAcquire(path);
  EXPECT_FALSE(t.ok());
  EXPECT_FALSE(fs::exists(dir_ + "/missing"));
}

}  // namespace
}  // namespace recsys
