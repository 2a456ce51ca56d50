#include "common/bundle/array_file.h"

#include <bit>
#include <cstring>
#include <numeric>
#include <type_traits>

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
// magic + version + dtype + ndims
constexpr size_t kFixedHeaderBytes = 8 + 3 * 4;

template <typename T>
void AppendPod(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(T));
}

template <typename T>
T LoadPod(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

size_t HeaderBytes(uint32_t version, size_t ndims) {
  const size_t unpadded = kFixedHeaderBytes + 8 * ndims;
  if (version == 1) return unpadded;
  return (unpadded + kArrayHeaderAlignment - 1) / kArrayHeaderAlignment * kArrayHeaderAlignment;
}

std::string EncodeHeader(DType dtype, const std::vector<uint64_t>& dims) {
  std::string h(kMagic, sizeof(kMagic));
  AppendPod<uint32_t>(&h, kArrayFormatVersion);
  AppendPod<uint32_t>(&h, static_cast<uint32_t>(dtype));
  AppendPod<uint32_t>(&h, static_cast<uint32_t>(dims.size()));
  for (uint64_t d : dims) AppendPod<uint64_t>(&h, d);
  h.resize(HeaderBytes(kArrayFormatVersion, dims.size()), '\0');
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
  const std::string header = EncodeHeader(dtype, dims);
  const absl::string_view payload(reinterpret_cast<const char*>(data), Product(dims) * sizeof(T));
  return WriteFileDurably(path, {header, payload});
}

struct ParsedHeader {
  std::vector<uint64_t> dims;
  uint64_t elements = 0;
  absl::string_view payload;  // the rest of the file after the header
};

// Parses and checks the header of `file` (the whole file's bytes) against
// its size; nothing is allocated from the header's claims beyond the dims.
// `element_size` > 0: the payload must be exactly elements * element_size
// bytes; 0 (strings): at least 4 bytes per element.
absl::StatusOr<ParsedHeader> ParseHeader(absl::string_view file, DType want, size_t element_size,
                                   const std::string& path) {
  if (file.size() < kFixedHeaderBytes) {
    return absl::DataLossError(absl::StrCat(path, ": truncated array header (", file.size(),
                                            " bytes)"));
  }
  if (std::memcmp(file.data(), kMagic, 8) != 0) {
    return absl::DataLossError(absl::StrCat(path, ": not a recsys array file (bad magic)"));
  }
  const uint32_t version = LoadPod<uint32_t>(file.data() + 8);
  const uint32_t dtype = LoadPod<uint32_t>(file.data() + 12);
  const uint32_t ndims = LoadPod<uint32_t>(file.data() + 16);
  if (version != 1 && version != kArrayFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": array format version ", version,
                                                      ", this build reads 1 to ",
                                                      kArrayFormatVersion));
  }
  if (dtype != static_cast<uint32_t>(want)) {
    return absl::DataLossError(absl::StrCat(path, ": dtype ", dtype, ", expected ",
                                            static_cast<uint32_t>(want)));
  }
  if (ndims == 0 || ndims > kMaxDims) {
    return absl::DataLossError(absl::StrCat(path, ": bad dimension count ", ndims));
  }
  const size_t header_bytes = HeaderBytes(version, ndims);
  if (file.size() < header_bytes) {
    return absl::DataLossError(absl::StrCat(path, ": truncated array header (", file.size(),
                                            " bytes, the header needs ", header_bytes, ")"));
  }
  ParsedHeader h;
  h.dims.resize(ndims);
  for (uint32_t k = 0; k < ndims; ++k) {
    h.dims[k] = LoadPod<uint64_t>(file.data() + kFixedHeaderBytes + 8 * k);
  }
  for (size_t k = kFixedHeaderBytes + 8 * ndims; k < header_bytes; ++k) {
    if (file[k] != '\0') return absl::DataLossError(absl::StrCat(path, ": bad header padding"));
  }
  uint64_t total = 1;
  for (uint64_t d : h.dims) {
    if (d != 0 && total > kMaxElements / d) {
      return absl::DataLossError(absl::StrCat(path, ": implausible dimensions (more than 2^36 ",
                                              "elements)"));
    }
    total *= d;
  }
  h.elements = total;
  h.payload = file.substr(header_bytes);
  const uint64_t have = h.payload.size();
  if (element_size > 0) {
    const uint64_t need = total * element_size;  // <= 2^39: no overflow
    if (have < need) {
      return absl::DataLossError(absl::StrCat(path, ": truncated payload (", have,
                                              " bytes, the header's dimensions need ", need, ")"));
    }
    if (have > need) {
      return absl::DataLossError(absl::StrCat(path, ": trailing bytes after payload (", have,
                                              " bytes, the header's dimensions need ", need, ")"));
    }
  } else if (total > have / 4) {
    return absl::DataLossError(absl::StrCat(path, ": truncated strings (", total,
                                            " records cannot fit in ", have, " bytes)"));
  }
  return h;
}

template <typename T>
constexpr DType DTypeOf() {
  if constexpr (std::is_same_v<T, float>) {
    return DType::kFloat32;
  } else if constexpr (std::is_same_v<T, int32_t>) {
    return DType::kInt32;
  } else {
    static_assert(std::is_same_v<T, int64_t>);
    return DType::kInt64;
  }
}

template <typename T>
absl::StatusOr<MappedArray<T>> MapTyped(std::shared_ptr<const Mapping> file) {
  ASSIGN_OR_RETURN(ParsedHeader h, ParseHeader(file->bytes(), DTypeOf<T>(), sizeof(T), file->path()));
  MappedArray<T> a;
  a.dims = std::move(h.dims);
  const char* p = h.payload.data();
  if (h.elements == 0) return a;
  if (reinterpret_cast<uintptr_t>(p) % alignof(T) != 0) {
    // Only a version-1 file's int64 payload: copy it.
    std::vector<T> copy(h.elements);
    std::memcpy(copy.data(), p, h.elements * sizeof(T));
    a.values = std::move(copy);
    return a;
  }
  a.values = ArrayStore<T>(std::move(file),
                           std::span<const T>(reinterpret_cast<const T*>(p), h.elements));
  return a;
}

template <typename T>
absl::StatusOr<MappedArray<T>> MapPath(const std::string& path) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Mapping> file, Mapping::Open(path));
  return MapTyped<T>(std::move(file));
}

template <typename T>
absl::StatusOr<Array<T>> ReadTyped(const std::string& path) {
  ASSIGN_OR_RETURN(MappedArray<T> m, MapPath<T>(path));
  Array<T> a;
  a.dims = std::move(m.dims);
  a.values = m.values.ToVector();
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
  const std::string header = EncodeHeader(DType::kString, {values.size()});
  return WriteFileDurably(path, {header, payload});
}

absl::StatusOr<Array<float>> ReadFloatArray(const std::string& path) {
  return ReadTyped<float>(path);
}
absl::StatusOr<Array<int32_t>> ReadInt32Array(const std::string& path) {
  return ReadTyped<int32_t>(path);
}
absl::StatusOr<Array<int64_t>> ReadInt64Array(const std::string& path) {
  return ReadTyped<int64_t>(path);
}

absl::StatusOr<std::vector<std::string>> ReadStringArray(const std::string& path) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Mapping> file, Mapping::Open(path));
  return ParseStringArray(*file);
}

absl::StatusOr<MappedArray<float>> MapFloatArray(const std::string& path) {
  return MapPath<float>(path);
}
absl::StatusOr<MappedArray<int32_t>> MapInt32Array(const std::string& path) {
  return MapPath<int32_t>(path);
}
absl::StatusOr<MappedArray<int64_t>> MapInt64Array(const std::string& path) {
  return MapPath<int64_t>(path);
}
absl::StatusOr<MappedArray<float>> MapFloatArray(std::shared_ptr<const Mapping> file) {
  return MapTyped<float>(std::move(file));
}
absl::StatusOr<MappedArray<int32_t>> MapInt32Array(std::shared_ptr<const Mapping> file) {
  return MapTyped<int32_t>(std::move(file));
}
absl::StatusOr<MappedArray<int64_t>> MapInt64Array(std::shared_ptr<const Mapping> file) {
  return MapTyped<int64_t>(std::move(file));
}

template <typename T>
absl::StatusOr<MappedArray<T>> MapArray(std::shared_ptr<const Mapping> file) {
  return MapTyped<T>(std::move(file));
}
template absl::StatusOr<MappedArray<float>> MapArray<float>(std::shared_ptr<const Mapping>);
template absl::StatusOr<MappedArray<int32_t>> MapArray<int32_t>(std::shared_ptr<const Mapping>);
template absl::StatusOr<MappedArray<int64_t>> MapArray<int64_t>(std::shared_ptr<const Mapping>);

absl::StatusOr<std::vector<std::string>> ParseStringArray(const Mapping& file) {
  const std::string& path = file.path();
  ASSIGN_OR_RETURN(ParsedHeader h, ParseHeader(file.bytes(), DType::kString, 0, path));
  if (h.dims.size() != 1) return absl::DataLossError(absl::StrCat(path, ": string arrays are 1-d"));
  absl::string_view rest = h.payload;
  std::vector<std::string> out(h.elements);  // <= payload bytes / 4 (ParseHeader)
  for (std::string& s : out) {
    if (rest.size() < 4) return absl::DataLossError(absl::StrCat(path, ": truncated strings"));
    const uint32_t len = LoadPod<uint32_t>(rest.data());
    rest.remove_prefix(4);
    if (len > rest.size()) return absl::DataLossError(absl::StrCat(path, ": truncated strings"));
    s.assign(rest.data(), len);
    rest.remove_prefix(len);
  }
  if (!rest.empty()) {
    return absl::DataLossError(absl::StrCat(path, ": trailing bytes after payload"));
  }
  return out;
}

}  // namespace recsys
