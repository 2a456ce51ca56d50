#include "common/io/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace recsys {
namespace {

absl::StatusOr<UniqueFd> OpenLockFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    return absl::InternalError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
  }
  return fd;
}

}  // namespace

absl::StatusOr<FileLock> FileLock::Acquire(const std::string& path) {
  absl::StatusOr<UniqueFd> fd = OpenLockFile(path);
  if (!fd.ok()) return fd.status();
  while (::flock(fd->get(), LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    return absl::InternalError(absl::StrCat("flock ", path, ": ", std::strerror(errno)));
  }
  return FileLock(*std::move(fd), path);
}

absl::StatusOr<std::optional<FileLock>> FileLock::TryAcquire(const std::string& path) {
  absl::StatusOr<UniqueFd> fd = OpenLockFile(path);
  if (!fd.ok()) return fd.status();
  while (::flock(fd->get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return std::optional<FileLock>();
    return absl::InternalError(absl::StrCat("flock ", path, ": ", std::strerror(errno)));
  }
  return std::optional<FileLock>(FileLock(*std::move(fd), path));
}

}  // namespace recsys
