#include "common/bundle/mapping.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/io/file.h"
#include "common/io/sha256.h"

namespace recsys {

absl::StatusOr<std::shared_ptr<const Mapping>> Mapping::Open(const std::string& path) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    const int err = errno;
    const std::string what = absl::StrCat("open ", path, ": ", std::strerror(err));
    return err == ENOENT ? absl::NotFoundError(what) : absl::InternalError(what);
  }
  const UniqueFd file(fd);  // the mapping outlives the descriptor
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return absl::InternalError(absl::StrCat("fstat ", path, ": ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) return absl::InternalError(absl::StrCat(path, ": not a regular file"));
  const size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) return std::shared_ptr<const Mapping>(new Mapping(path, nullptr, 0));
  void* data = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) {
    return absl::InternalError(absl::StrCat("mmap ", path, " (", size, " bytes): ",
                                            std::strerror(errno)));
  }
  return std::shared_ptr<const Mapping>(new Mapping(path, data, size));
}

std::shared_ptr<const Mapping> Mapping::FromBytes(std::string path, absl::string_view bytes) {
  std::shared_ptr<Mapping> m(new Mapping(std::move(path), nullptr, 0));
  if (bytes.empty()) return m;
  m->owned_.reset(new char[bytes.size()]);
  std::memcpy(m->owned_.get(), bytes.data(), bytes.size());
  m->data_ = m->owned_.get();
  m->size_ = bytes.size();
  return m;
}

Mapping::~Mapping() {
  if (data_ != nullptr && owned_ == nullptr) ::munmap(data_, size_);
}

void Mapping::Advise(Advice advice, size_t offset, size_t length) const {
  if (data_ == nullptr || owned_ != nullptr || offset >= size_) return;  // heap: no advice
  // madvise needs a page-aligned start.
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t start = offset / page * page;
  const size_t end = length >= size_ - offset ? size_ : offset + length;
  int flag = MADV_NORMAL;
  switch (advice) {
    case Advice::kNormal: flag = MADV_NORMAL; break;
    case Advice::kSequential: flag = MADV_SEQUENTIAL; break;
    case Advice::kRandom: flag = MADV_RANDOM; break;
    case Advice::kWillNeed: flag = MADV_WILLNEED; break;
  }
  ::madvise(static_cast<char*>(data_) + start, end - start, flag);
}

std::string Mapping::Sha256Hex() const {
  Advise(Advice::kSequential);
  std::string hex = recsys::Sha256Hex(bytes());
  Advise(Advice::kNormal);
  return hex;
}

}  // namespace recsys
