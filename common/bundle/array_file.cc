#include "common/bundle/array_file.h"

#include <bit>
#include <cstring>
#include <fstream>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/io/file.h"
#include "common/status.h"

namespace recsys {
namespace {

static_assert(std::endian::native == std::endian::little,
              "array files are little-endian; add byte swapping for this host");

constexpr char kMagic[8] = {'R', 'S', 'Y', 'S', 'A', 'R', 'R', '\0'};
constexpr uint32_t kMaxDims = 4;
constexpr uint64_t kMaxElements = uint64_t{1} << 36;

template <typename T>
void AppendPod(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(T));
}

std::string Header(DType dtype, const std::vector<uint64_t>& dims) {
  std::string h(kMagic, sizeof(kMagic));
  AppendPod<uint32_t>(&h, kArrayFormatVersion);
  AppendPod<uint32_t>(&h, static_cast<uint32_t>(dtype));
  AppendPod<uint32_t>(&h, static_cast<uint32_t>(dims.size()));
  for (uint64_t d : dims) AppendPod<uint64_t>(&h, d);
  return h;
}

uint64_t Product(const std::vector<uint64_t>& dims) {
  return std::accumulate(dims.begin(), dims.end(), uint64_t{1}, std::multiplies<uint64_t>());
}

template <typename T>
absl::Status WriteTyped(const std::string& path, DType dtype, const std::vector<uint64_t>& dims,
                        const T* data) {
  if (dims.empty() || dims.size() > kMaxDims) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": 1..4 dimensions required"));
  }
  const std::string header = Header(dtype, dims);
  const absl::string_view payload(reinterpret_cast<const char*>(data), Product(dims) * sizeof(T));
  return WriteFileDurably(path, {header, payload});
}

// Reads and checks the header; returns dims and leaves `in` at the payload.
absl::StatusOr<std::vector<uint64_t>> ReadHeader(std::istream& in, DType want,
                                                 const std::string& path) {
  char magic[8];
  uint32_t version = 0, dtype = 0, ndims = 0;
  in.read(magic, 8);
  in.read(reinterpret_cast<char*>(&version), 4);
  in.read(reinterpret_cast<char*>(&dtype), 4);
  in.read(reinterpret_cast<char*>(&ndims), 4);
  if (!in) return absl::DataLossError(absl::StrCat(path, ": truncated array header"));
  if (std::memcmp(magic, kMagic, 8) != 0) {
    return absl::DataLossError(absl::StrCat(path, ": not a recsys array file (bad magic)"));
  }
  if (version != kArrayFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": array format version ", version,
                                                      ", this build reads ",
                                                      kArrayFormatVersion));
  }
  if (dtype != static_cast<uint32_t>(want)) {
    return absl::DataLossError(absl::StrCat(path, ": dtype ", dtype, ", expected ",
                                            static_cast<uint32_t>(want)));
  }
  if (ndims == 0 || ndims > kMaxDims) {
    return absl::DataLossError(absl::StrCat(path, ": bad dimension count ", ndims));
  }
  std::vector<uint64_t> dims(ndims);
  for (auto& d : dims) in.read(reinterpret_cast<char*>(&d), 8);
  if (!in) return absl::DataLossError(absl::StrCat(path, ": truncated array header"));
  uint64_t total = 1;
  for (uint64_t d : dims) {
    if (d != 0 && total > kMaxElements / d) {
      return absl::DataLossError(absl::StrCat(path, ": implausible dimensions"));
    }
    total *= d;
  }
  if (total > kMaxElements) return absl::DataLossError(absl::StrCat(path, ": implausible size"));
  return dims;
}

absl::Status ExpectEnd(std::istream& in, const std::string& path) {
  in.peek();
  if (!in.eof()) return absl::DataLossError(absl::StrCat(path, ": trailing bytes after payload"));
  return absl::OkStatus();
}

template <typename T>
absl::StatusOr<Array<T>> ReadTyped(const std::string& path, DType dtype) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  Array<T> a;
  ASSIGN_OR_RETURN(a.dims, ReadHeader(in, dtype, path));
  a.values.resize(Product(a.dims));
  in.read(reinterpret_cast<char*>(a.values.data()),
          static_cast<std::streamsize>(a.values.size() * sizeof(T)));
  if (!in) return absl::DataLossError(absl::StrCat(path, ": truncated payload"));
  RETURN_IF_ERROR(ExpectEnd(in, path));
  return a;
}

}  // namespace

absl::Status WriteFloatArray(const std::string& path, const std::vector<uint64_t>& dims,
                             const float* data) {
  return WriteTyped(path, DType::kFloat32, dims, data);
}
absl::Status WriteInt32Array(const std::string& path, const std::vector<uint64_t>& dims,
                             const int32_t* data) {
  return WriteTyped(path, DType::kInt32, dims, data);
}
absl::Status WriteInt64Array(const std::string& path, const std::vector<uint64_t>& dims,
                             const int64_t* data) {
  return WriteTyped(path, DType::kInt64, dims, data);
}

absl::Status WriteStringArray(const std::string& path, const std::vector<std::string>& values) {
  std::string payload;
  for (const std::string& v : values) {
    AppendPod<uint32_t>(&payload, static_cast<uint32_t>(v.size()));
    payload.append(v);
  }
  const std::string header = Header(DType::kString, {values.size()});
  return WriteFileDurably(path, {header, payload});
}

absl::StatusOr<Array<float>> ReadFloatArray(const std::string& path) {
  return ReadTyped<float>(path, DType::kFloat32);
}
absl::StatusOr<Array<int32_t>> ReadInt32Array(const std::string& path) {
  return ReadTyped<int32_t>(path, DType::kInt32);
}
absl::StatusOr<Array<int64_t>> ReadInt64Array(const std::string& path) {
  return ReadTyped<int64_t>(path, DType::kInt64);
}

absl::StatusOr<std::vector<std::string>> ReadStringArray(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  ASSIGN_OR_RETURN(std::vector<uint64_t> dims, ReadHeader(in, DType::kString, path));
  if (dims.size() != 1) return absl::DataLossError(absl::StrCat(path, ": string arrays are 1-d"));
  std::vector<std::string> out(dims[0]);
  for (std::string& s : out) {
    uint32_t len = 0;
    in.read(reinterpret_cast<char*>(&len), 4);
    if (!in || len > (1u << 30)) return absl::DataLossError(absl::StrCat(path, ": truncated strings"));
    s.resize(len);
    in.read(s.data(), len);
    if (!in) return absl::DataLossError(absl::StrCat(path, ": truncated strings"));
  }
  RETURN_IF_ERROR(ExpectEnd(in, path));
  return out;
}

}  // namespace recsys
