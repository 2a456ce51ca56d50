#include "common/io/file.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace recsys {
namespace {

namespace fs = std::filesystem;

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = ::testing::TempDir() + "file_test-XXXXXX";
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override {
    ::chmod(dir_.c_str(), 0755);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static std::string Slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  std::string dir_;
};

// Runs `fn` in a child process (as an unprivileged user when we are root, so
// that permission bits apply) and returns its exit code.
template <typename Fn>
int RunUnprivileged(Fn fn) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(99);
    ::_exit(fn());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 98;
}

// Pieces are written back to back; an existing file is truncated first.
TEST_F(FileTest, WriteFileDurablyWritesPiecesAndTruncates) {
  const std::string path = dir_ + "/f";
  ASSERT_TRUE(WriteFileDurably(path, "a much longer first version").ok());
  const std::string header = "head";
  const std::string payload("\0pay\xff", 5);
  ASSERT_TRUE(WriteFileDurably(path, {header, payload}).ok());
  EXPECT_EQ(Slurp(path), header + payload);
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                fs::perms::others_read);
  ASSERT_TRUE(WriteFileDurably(path, "").ok());
  EXPECT_EQ(fs::file_size(path), 0u);
}

// Writing into a directory that does not exist fails, naming the file.
TEST_F(FileTest, WriteIntoMissingDirectoryFails) {
  const std::string path = dir_ + "/no/such/dir/f";
  const absl::Status s = WriteFileDurably(path, "x");
  EXPECT_TRUE(absl::IsInternal(s)) << s;
  EXPECT_NE(s.message().find(path), std::string::npos) << s;
  EXPECT_FALSE(ReplaceFileDurably(path, "x").ok());
  EXPECT_FALSE(AppendFileDurably(path, "x").ok());
  EXPECT_FALSE(OpenForAppend(path).ok());
}

// Writing into a read-only directory fails cleanly for every writer.
TEST_F(FileTest, WriteIntoReadOnlyDirectoryFails) {
  ASSERT_EQ(::chmod(dir_.c_str(), 0555), 0);
  const std::string dir = dir_;
  const int rc = RunUnprivileged([dir] {
    const std::string path = dir + "/f";
    if (WriteFileDurably(path, "x").ok()) return 1;
    const absl::Status s = ReplaceFileDurably(path, "x");
    if (s.ok() || s.message().find(path + ".tmp") == absl::string_view::npos) return 2;
    if (AppendFileDurably(path, "x").ok()) return 3;
    if (OpenForAppend(path).ok()) return 4;
    return 0;
  });
  EXPECT_EQ(rc, 0);
  EXPECT_FALSE(fs::exists(dir_ + "/f"));
}

// ReadFile returns every byte; a missing file is NotFound naming it.
TEST_F(FileTest, ReadFile) {
  const std::string path = dir_ + "/r";
  std::string bytes(200000, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7);
  ASSERT_TRUE(WriteFileDurably(path, bytes).ok());
  auto read = ReadFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, bytes);
  auto missing = ReadFile(dir_ + "/missing");
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_NE(missing.status().message().find(dir_ + "/missing"), std::string::npos);
}

// ReplaceFileDurably swaps the contents in and leaves no temporary file behind.
TEST_F(FileTest, ReplaceFileDurably) {
  const std::string path = dir_ + "/alias";
  ASSERT_TRUE(ReplaceFileDurably(path, "v1\n").ok());
  ASSERT_TRUE(ReplaceFileDurably(path, "v2\n", dir_ + "/.alias.tmp").ok());
  EXPECT_EQ(Slurp(path), "v2\n");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_FALSE(fs::exists(dir_ + "/.alias.tmp"));
  // A path without a directory part replaces a file in the working directory.
  const fs::path cwd = fs::current_path();
  fs::current_path(dir_);
  EXPECT_TRUE(ReplaceFileDurably("local", "x").ok());
  fs::current_path(cwd);
  EXPECT_EQ(Slurp(dir_ + "/local"), "x");
}

// AppendFileDurably creates the file, then appends.
TEST_F(FileTest, AppendFileDurably) {
  const std::string path = dir_ + "/log";
  ASSERT_TRUE(AppendFileDurably(path, "one\n").ok());
  ASSERT_TRUE(AppendFileDurably(path, "two\n").ok());
  EXPECT_EQ(Slurp(path), "one\ntwo\n");
}

// TruncateFileDurably cuts a file; a missing file is an error naming it.
TEST_F(FileTest, TruncateFileDurably) {
  const std::string path = dir_ + "/t";
  ASSERT_TRUE(WriteFileDurably(path, "0123456789").ok());
  ASSERT_TRUE(TruncateFileDurably(path, 4).ok());
  EXPECT_EQ(Slurp(path), "0123");
  const absl::Status s = TruncateFileDurably(dir_ + "/missing", 0);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(dir_ + "/missing"), std::string::npos) << s;
}

// RenameNoReplace moves files and directories but never replaces an existing
// target, not even an empty directory; errors name the paths.
TEST_F(FileTest, RenameNoReplace) {
  const std::string from = dir_ + "/staging";
  const std::string to = dir_ + "/v1";
  fs::create_directories(from);
  ASSERT_TRUE(WriteFileDurably(from + "/a", "x").ok());
  ASSERT_TRUE(RenameNoReplace(from, to).ok());
  EXPECT_EQ(Slurp(to + "/a"), "x");
  EXPECT_FALSE(fs::exists(from));

  fs::create_directories(from);
  fs::create_directories(dir_ + "/empty");
  const absl::Status s = RenameNoReplace(from, dir_ + "/empty");
  EXPECT_TRUE(absl::IsAlreadyExists(s)) << s;
  EXPECT_TRUE(fs::exists(from));
  ASSERT_TRUE(WriteFileDurably(dir_ + "/f1", "1").ok());
  ASSERT_TRUE(WriteFileDurably(dir_ + "/f2", "2").ok());
  EXPECT_TRUE(absl::IsAlreadyExists(RenameNoReplace(dir_ + "/f1", dir_ + "/f2")));
  EXPECT_EQ(Slurp(dir_ + "/f2"), "2");

  const absl::Status missing = RenameNoReplace(dir_ + "/missing", dir_ + "/other");
  EXPECT_TRUE(absl::IsInternal(missing)) << missing;
  EXPECT_NE(missing.message().find(dir_ + "/missing"), std::string::npos) << missing;
}

// RemoveFile deletes, and a file that is already gone is fine.
TEST_F(FileTest, RemoveFile) {
  const std::string path = dir_ + "/gone";
  ASSERT_TRUE(WriteFileDurably(path, "x").ok());
  EXPECT_TRUE(RemoveFile(path).ok());
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(RemoveFile(path).ok());
  EXPECT_FALSE(RemoveFile(dir_).ok());  // a directory is not unlinked
}

// fsync of files and directories works on existing ones and names missing ones.
TEST_F(FileTest, SyncFilesAndDirectories) {
  const std::string path = dir_ + "/s";
  ASSERT_TRUE(WriteFileDurably(path, "x").ok());
  EXPECT_TRUE(FsyncFile(path).ok());
  EXPECT_TRUE(SyncDirectory(dir_).ok());
  const absl::Status missing_file = FsyncFile(dir_ + "/missing");
  EXPECT_NE(missing_file.message().find(dir_ + "/missing"), std::string::npos) << missing_file;
  const absl::Status missing_dir = SyncDirectory(dir_ + "/missing");
  EXPECT_TRUE(absl::IsInternal(missing_dir)) << missing_dir;
  EXPECT_NE(missing_dir.message().find(dir_ + "/missing"), std::string::npos) << missing_dir;
  EXPECT_FALSE(SyncDirectory(path).ok());  // not a directory

  auto fd = OpenForAppend(path);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_TRUE(SyncFd(fd->get(), path).ok());
  EXPECT_TRUE(DataSyncFd(fd->get(), path).ok());
  EXPECT_FALSE(SyncFd(-1, path).ok());
  EXPECT_FALSE(DataSyncFd(-1, path).ok());
}

// OpenForAppend appends; the exclusive mode refuses an existing file.
TEST_F(FileTest, OpenForAppend) {
  const std::string path = dir_ + "/seg";
  {
    auto fd = OpenForAppend(path, CreateMode::kExclusive);
    ASSERT_TRUE(fd.ok()) << fd.status();
    ASSERT_TRUE(WriteAll(fd->get(), "ab", path).ok());
  }
  {
    auto fd = OpenForAppend(path);
    ASSERT_TRUE(fd.ok()) << fd.status();
    ASSERT_TRUE(WriteAll(fd->get(), "cd", path).ok());
  }
  EXPECT_EQ(Slurp(path), "abcd");
  auto again = OpenForAppend(path, CreateMode::kExclusive);
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("create " + path), std::string::npos) << again.status();
}

// UniqueFd closes on destruction and on move-assignment, and moves leave the source empty.
TEST_F(FileTest, UniqueFdOwnsTheDescriptor) {
  const std::string path = dir_ + "/u";
  auto a = OpenForAppend(path);
  ASSERT_TRUE(a.ok());
  const int raw = a->get();
  UniqueFd b(std::move(*a));
  EXPECT_FALSE(a->valid());
  EXPECT_EQ(b.get(), raw);
  UniqueFd c;
  c = std::move(b);
  EXPECT_EQ(c.get(), raw);
  c.Reset();
  EXPECT_FALSE(c.valid());
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1);  // closed
}

// WriteAll on a bad descriptor reports the path.
TEST_F(FileTest, WriteAllErrorNamesThePath) {
  const absl::Status s = WriteAll(-1, "x", "some/path");
  EXPECT_TRUE(absl::IsInternal(s)) << s;
  EXPECT_NE(s.message().find("write some/path"), std::string::npos) << s;
}

void NoopHandler(int) {}

// A write into a pipe that a slow reader drains, while signals keep
// interrupting it, comes back partial or EINTR many times: WriteAll still
// delivers every byte, in order.
TEST(WriteAllTest, PartialWritesAndInterruptsAreResumed) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  struct sigaction sa = {};
  sa.sa_handler = NoopHandler;  // no SA_RESTART: blocked writes return early
  struct sigaction old = {};
  ASSERT_EQ(::sigaction(SIGUSR1, &sa, &old), 0);

  std::string data(4 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 2654435761u) >> 13);
  const pthread_t writer = ::pthread_self();
  std::atomic<bool> done{false};
  std::string received;
  std::thread reader([&] {
    char buf[4096];
    for (;;) {
      if (!done.load()) ::pthread_kill(writer, SIGUSR1);
      const ssize_t n = ::read(fds[0], buf, sizeof(buf));
      if (n <= 0) break;
      received.append(buf, static_cast<size_t>(n));
    }
  });
  const absl::Status s = WriteAll(fds[1], data, "pipe");
  done.store(true);
  ::close(fds[1]);
  reader.join();
  ::close(fds[0]);
  ::sigaction(SIGUSR1, &old, nullptr);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(received == data) << "received " << received.size() << " of " << data.size();
}

// When the file size limit cuts a write short, WriteAll keeps going and then
// reports the error (EFBIG) with the path, after writing what fit.
TEST_F(FileTest, ShortWriteThenErrorIsReported) {
  const std::string path = dir_ + "/limited";
  // The limit applies to the process that writes: do it in a child.
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {1000, 1000};
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) ::_exit(10);
    const absl::Status s = WriteFileDurably(path, std::string(5000, 'x'));
    if (s.ok()) ::_exit(11);
    if (s.message().find("write " + path) == absl::string_view::npos) ::_exit(12);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(fs::file_size(path), 1000u);  // the partial write landed
}

}  // namespace
}  // namespace recsys
