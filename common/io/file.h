// File mechanics shared by the bundle writer, the registry and the gateway's
// write-ahead log: complete writes, fsync of files and directories, whole-file
// reads, and the durable write patterns built from them.
//
// Every error is an absl::Status whose message names the path and the failed
// system call ("fsync registry/movielens/runs.jsonl: No space left on device").
// Codes: NotFound when a file to read cannot be opened, Internal for every
// other I/O failure. Nothing here retries beyond EINTR; nothing logs.
//
// Threading: all functions are safe to call concurrently; concurrent writers
// of one path must be serialized by the caller (see FileLock).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace recsys {

// Owns one open file descriptor and closes it on destruction. Move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept;
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Closes the descriptor (if any); close errors are ignored, so callers that
  // need durability sync before closing.
  void Reset();

 private:
  int fd_ = -1;
};

// Writes all of `data` to `fd`, looping over partial writes and retrying
// EINTR. On error some prefix of `data` may have been written.
absl::Status WriteAll(int fd, absl::string_view data, const std::string& path);

// fsync / fdatasync of an open descriptor; `path` names it in errors.
absl::Status SyncFd(int fd, const std::string& path);
absl::Status DataSyncFd(int fd, const std::string& path);
// Opens `path` read-only and fsyncs it (makes a file written by others durable).
absl::Status FsyncFile(const std::string& path);
// fsync of a directory: makes entries created, renamed or removed in it durable.
absl::Status SyncDirectory(const std::string& dir);

// The whole contents of `path`. NotFound if it cannot be opened.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Creates or truncates `path` (mode 0644), writes `pieces` back to back and
// fsyncs it. Not atomic: a crash can leave a partial file at `path`; use
// ReplaceFileDurably where readers must never see one. The directory entry of
// a new file is not synced (call SyncDirectory).
absl::Status WriteFileDurably(const std::string& path, absl::Span<const absl::string_view> pieces);
absl::Status WriteFileDurably(const std::string& path, absl::string_view contents);

// Atomically replaces `path` by `contents`: writes and fsyncs `tmp_path` (by
// default path + ".tmp", which must be in the same directory), renames it over
// `path` and fsyncs the directory. Readers see the old or the new file, never
// a mix; after a crash a stale `tmp_path` may be left behind.
absl::Status ReplaceFileDurably(const std::string& path, absl::string_view contents,
                                const std::string& tmp_path = "");

// Appends `data` to `path` (created 0644 if absent) with a single write loop
// on an O_APPEND descriptor, then fsyncs. A crash can leave a torn tail.
absl::Status AppendFileDurably(const std::string& path, absl::string_view data);

// Truncates `path` to `size` bytes and fsyncs it.
absl::Status TruncateFileDurably(const std::string& path, uint64_t size);

// Renames `from` to `to` (files or directories) unless `to` exists:
// AlreadyExists then, and nothing changes. Atomic with renameat2(RENAME_NOREPLACE);
// on file systems without it, falls back to check-then-rename, which is safe
// only when the caller serializes everyone creating `to` (e.g. with a FileLock).
absl::Status RenameNoReplace(const std::string& from, const std::string& to);

// unlink(); a file that is already gone is not an error.
absl::Status RemoveFile(const std::string& path);

// Opens `path` for appending (O_WRONLY | O_APPEND, created 0644). With
// `exclusive` the file must not exist yet (O_EXCL).
enum class CreateMode { kOpenOrCreate, kExclusive };
absl::StatusOr<UniqueFd> OpenForAppend(const std::string& path,
                                       CreateMode mode = CreateMode::kOpenOrCreate);

}  // namespace recsys
