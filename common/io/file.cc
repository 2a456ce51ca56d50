#include "common/io/file.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"

namespace recsys {
namespace {

std::string ErrnoText() { return std::strerror(errno); }

absl::Status ErrnoError(absl::string_view op, const std::string& path) {
  return absl::InternalError(absl::StrCat(op, " ", path, ": ", ErrnoText()));
}

}  // namespace

UniqueFd::UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    Reset();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void UniqueFd::Reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  const char* p = data.data();
  size_t n = data.size();
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("write", path);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

absl::Status SyncFd(int fd, const std::string& path) {
  if (::fsync(fd) != 0) return ErrnoError("fsync", path);
  return absl::OkStatus();
}

absl::Status DataSyncFd(int fd, const std::string& path) {
  if (::fdatasync(fd) != 0) return ErrnoError("fdatasync", path);
  return absl::OkStatus();
}

absl::Status FsyncFile(const std::string& path) {
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("open", path);
  return SyncFd(fd.get(), path);
}

absl::Status SyncDirectory(const std::string& dir) {
  const UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("open dir", dir);
  if (::fsync(fd.get()) != 0) return ErrnoError("fsync dir", dir);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::Status WriteFileDurably(const std::string& path, absl::Span<const absl::string_view> pieces) {
  const UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return ErrnoError("create", path);
  for (absl::string_view piece : pieces) {
    if (absl::Status s = WriteAll(fd.get(), piece, path); !s.ok()) return s;
  }
  return SyncFd(fd.get(), path);
}

absl::Status WriteFileDurably(const std::string& path, absl::string_view contents) {
  return WriteFileDurably(path, absl::MakeConstSpan(&contents, 1));
}

absl::Status ReplaceFileDurably(const std::string& path, absl::string_view contents,
                                const std::string& tmp_path) {
  const std::string tmp = tmp_path.empty() ? path + ".tmp" : tmp_path;
  if (absl::Status s = WriteFileDurably(tmp, contents); !s.ok()) return s;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("rename ", tmp, " -> ", path, ": ", ErrnoText()));
  }
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return SyncDirectory(".");
  return SyncDirectory(slash == 0 ? "/" : path.substr(0, slash));
}

absl::Status AppendFileDurably(const std::string& path, absl::string_view data) {
  const UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) return ErrnoError("open", path);
  if (absl::Status s = WriteAll(fd.get(), data, path); !s.ok()) return s;
  return SyncFd(fd.get(), path);
}

absl::Status TruncateFileDurably(const std::string& path, uint64_t size) {
  const UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("open", path);
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) return ErrnoError("ftruncate", path);
  return SyncFd(fd.get(), path);
}

absl::Status RenameNoReplace(const std::string& from, const std::string& to) {
  auto exists = [&to] {
    return absl::AlreadyExistsError(absl::StrCat("rename ", to, ": already exists"));
  };
  auto failed = [&from, &to] {
    return absl::InternalError(absl::StrCat("rename ", from, " -> ", to, ": ", ErrnoText()));
  };
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
    return absl::OkStatus();
  }
  if (errno == EEXIST || errno == ENOTEMPTY) return exists();
  if (errno != EINVAL && errno != ENOSYS) return failed();
  struct stat st;
  if (::stat(to.c_str(), &st) == 0) return exists();
  if (::rename(from.c_str(), to.c_str()) != 0) return failed();
  return absl::OkStatus();
}

absl::Status RemoveFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoError("unlink", path);
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> OpenForAppend(const std::string& path, CreateMode mode) {
  const bool exclusive = mode == CreateMode::kExclusive;
  const int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (exclusive ? O_EXCL : 0);
  UniqueFd fd(::open(path.c_str(), flags, 0644));
  if (!fd.valid()) return ErrnoError(exclusive ? "create" : "open", path);
  return fd;
}

}  // namespace recsys
