#include "offline/synth/synth_writer.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace recsys::synth {

absl::StatusOr<std::unique_ptr<BufferedFile>> BufferedFile::Create(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
  }
  std::setvbuf(f, nullptr, _IONBF, 0);  // our own buffer is the only one
  return std::unique_ptr<BufferedFile>(new BufferedFile(path, f));
}

BufferedFile::BufferedFile(std::string path, std::FILE* file)
    : path_(std::move(path)), file_(file), buffer_(kBufferBytes) {}

BufferedFile::~BufferedFile() {
  if (file_ != nullptr) std::fclose(file_);
}

void BufferedFile::WriteOut(const char* data, size_t n) {
  if (!status_.ok() || n == 0) return;
  if (std::fwrite(data, 1, n, file_) != n) {
    status_ = absl::InternalError(absl::StrCat("write to ", path_, ": ", std::strerror(errno)));
    return;
  }
  written_ += static_cast<int64_t>(n);
}

void BufferedFile::Flush() {
  WriteOut(buffer_.data(), used_);
  used_ = 0;
}

absl::Status BufferedFile::Close() {
  Flush();
  if (file_ != nullptr) {
    if (std::fclose(file_) != 0 && status_.ok()) {
      status_ = absl::InternalError(absl::StrCat("close ", path_, ": ", std::strerror(errno)));
    }
    file_ = nullptr;
  }
  return status_;
}

}  // namespace recsys::synth
