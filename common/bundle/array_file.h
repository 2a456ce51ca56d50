// Typed array files: the bundle's binary artefact format.
//
// One array per file, little-endian:
//   bytes 0..7   magic "RSYSARR\0"
//   u32          format version (kArrayFormatVersion)
//   u32          dtype (DType)
//   u32          number of dimensions (1..4)
//   u64 × ndims  dimensions
//   payload      prod(dims) elements; for kString, prod(dims) records of
//                (u32 length, bytes)
// Readers refuse other magics, versions and dtypes, and truncated or
// oversized payloads, with an error naming the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace recsys {

inline constexpr uint32_t kArrayFormatVersion = 1;

enum class DType : uint32_t { kFloat32 = 1, kInt32 = 2, kInt64 = 3, kString = 4 };

template <typename T>
struct Array {
  std::vector<uint64_t> dims;
  std::vector<T> values;  // row-major, size prod(dims)
};

// Writers create `path` (truncating) and fsync it before returning
// (WriteFileDurably in common/io/file.h).
absl::Status WriteFloatArray(const std::string& path, const std::vector<uint64_t>& dims,
                             const float* data);
absl::Status WriteInt32Array(const std::string& path, const std::vector<uint64_t>& dims,
                             const int32_t* data);
absl::Status WriteInt64Array(const std::string& path, const std::vector<uint64_t>& dims,
                             const int64_t* data);
absl::Status WriteStringArray(const std::string& path, const std::vector<std::string>& values);

absl::StatusOr<Array<float>> ReadFloatArray(const std::string& path);
absl::StatusOr<Array<int32_t>> ReadInt32Array(const std::string& path);
absl::StatusOr<Array<int64_t>> ReadInt64Array(const std::string& path);
absl::StatusOr<std::vector<std::string>> ReadStringArray(const std::string& path);

}  // namespace recsys
