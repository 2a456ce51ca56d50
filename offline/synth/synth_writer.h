// A write-only file with one large buffer: text is appended with memcpy and
// integers with std::to_chars (no iostream formatting per line), and the
// buffer goes to the file in 4 MiB writes. Not thread-safe.
#pragma once

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace recsys::synth {

class BufferedFile {
 public:
  static constexpr size_t kBufferBytes = size_t{4} << 20;

  // Creates (truncates) `path`.
  static absl::StatusOr<std::unique_ptr<BufferedFile>> Create(const std::string& path);
  ~BufferedFile();
  BufferedFile(const BufferedFile&) = delete;
  BufferedFile& operator=(const BufferedFile&) = delete;

  void Append(absl::string_view s) {
    if (used_ + s.size() > buffer_.size()) Flush();
    if (s.size() > buffer_.size()) {
      WriteOut(s.data(), s.size());
      return;
    }
    std::memcpy(buffer_.data() + used_, s.data(), s.size());
    used_ += s.size();
  }
  void AppendInt(int64_t v) {
    if (used_ + 24 > buffer_.size()) Flush();
    used_ = std::to_chars(buffer_.data() + used_, buffer_.data() + buffer_.size(), v).ptr -
            buffer_.data();
  }
  // The first write error so far (OK if none).
  const absl::Status& status() const { return status_; }
  // Flushes and closes; returns the first error of any write or of the close.
  absl::Status Close();
  // Bytes appended so far.
  int64_t bytes() const { return written_ + static_cast<int64_t>(used_); }

 private:
  BufferedFile(std::string path, std::FILE* file);
  void Flush();
  void WriteOut(const char* data, size_t n);

  std::string path_;
  std::FILE* file_;
  std::vector<char> buffer_;
  size_t used_ = 0;
  int64_t written_ = 0;
  absl::Status status_;
};

}  // namespace recsys::synth
