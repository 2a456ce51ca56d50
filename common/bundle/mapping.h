// Read-only memory mappings of bundle files.
//
// A Mapping maps one whole file (PROT_READ, MAP_SHARED) and unmaps it when the
// last shared_ptr to it goes away. The pages are the kernel's page cache: every
// process that maps the same file shares them, and they count as file-backed
// (RssFile), not anonymous, memory.
//
// Lifetime rules (IMPORTANT):
//   - A view into a mapping (ArrayStore, MappedArray) holds a
//     shared_ptr<const Mapping>, so the mapping lives as long as any view.
//   - A loaded ModelBundle keeps its views, so its files stay mapped until the
//     last request holding the bundle drops it.
//   - A mapped file must never be modified in place (a MAP_SHARED mapping would
//     see the change, checksums notwithstanding). The registry never does: it
//     only writes new version directories and gc removes whole old ones.
//     Removing (unlinking) a mapped file is safe on Linux: the inode and its
//     pages live on until the last mapping is gone.
// Thread-safety: a Mapping is immutable; its methods are safe to call
// concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace recsys {

class Mapping {
 public:
  // Access-pattern hints (madvise); the kernel may ignore them.
  enum class Advice { kNormal, kSequential, kRandom, kWillNeed };

  // Maps all of `path` read-only. NotFound if it cannot be opened, Internal
  // for other failures (both name the file). An empty file gives an empty
  // mapping (no pages).
  static absl::StatusOr<std::shared_ptr<const Mapping>> Open(const std::string& path);

  // A mapping-like view of `bytes` held in the heap (a copy owned by the
  // result), named `path` in error messages. For parsers that take a Mapping
  // fed from memory (tests, fuzzing); data() is aligned as operator new
  // aligns (16 bytes on x86-64), like a page-aligned mapping for every dtype.
  static std::shared_ptr<const Mapping> FromBytes(std::string path, absl::string_view bytes);

  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping();

  // The file's bytes; valid while this Mapping lives.
  absl::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }
  const char* data() const { return static_cast<const char*>(data_); }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Hints the kernel about the access pattern of [offset, offset + length)
  // (clamped to the file); errors are ignored, it is only a hint.
  void Advise(Advice advice, size_t offset = 0, size_t length = SIZE_MAX) const;

  // SHA-256 of the bytes as 64 lower-case hex digits, streamed over the
  // mapping (read ahead sequentially; no copy of the file is made).
  std::string Sha256Hex() const;

 private:
  Mapping(std::string path, void* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}

  std::string path_;
  void* data_ = nullptr;
  size_t size_ = 0;
  // FromBytes: the heap copy data_ points into (never munmapped).
  std::unique_ptr<char[]> owned_;
};

}  // namespace recsys
