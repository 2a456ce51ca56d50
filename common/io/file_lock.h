// An exclusive advisory lock on a file (flock(LOCK_EX)), held for the
// lifetime of a FileLock object.
//
//   ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(dir + "/.lock"));
//   ... read-modify-write guarded files ...
//   // released when `lock` goes out of scope
//
// Each acquisition opens its own file description, so a FileLock excludes
// other threads of this process as well as other processes. The lock file is
// created (mode 0644) if absent and never removed; its directory must exist.
// flock() locks are released by the kernel when the holder dies, so a crashed
// process never leaves a stale lock behind.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "common/io/file.h"

namespace recsys {

class FileLock {
 public:
  // Blocks until the lock is held (EINTR is retried). Internal on I/O errors
  // (the message names the file).
  static absl::StatusOr<FileLock> Acquire(const std::string& path);
  // Takes the lock if it is free; nullopt if someone else holds it.
  static absl::StatusOr<std::optional<FileLock>> TryAcquire(const std::string& path);

  FileLock(FileLock&&) noexcept = default;
  FileLock& operator=(FileLock&&) noexcept = default;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  // Closing the descriptor releases the lock.
  ~FileLock() = default;

  const std::string& path() const { return path_; }

 private:
  FileLock(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}

  UniqueFd fd_;
  std::string path_;
};

}  // namespace recsys
