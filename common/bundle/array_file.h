// Typed array files: the bundle's binary artefact format.
//
// One array per file, little-endian:
//   bytes 0..7   magic "RSYSARR\0"
//   u32          format version (kArrayFormatVersion)
//   u32          dtype (DType)
//   u32          number of dimensions (1..4)
//   u64 × ndims  dimensions
//   zero bytes   (version 2) padding the header to a multiple of
//                kArrayHeaderAlignment bytes, so the payload of a mapped file
//                is aligned for every dtype
//   payload      prod(dims) elements; for kString, prod(dims) records of
//                (u32 length, bytes)
// Writers write version 2; readers accept versions 1 (no padding) and 2.
// Readers check the header against the file's size before sizing anything
// from it: a fixed-size payload must be exactly prod(dims) elements (the rest
// of the file), and other magics, versions, dtypes, dimension counts,
// overflowing dimensions, truncated or oversized payloads are refused with a
// DataLoss (FailedPrecondition for a newer version) error naming the file.
//
// Read*Array copy the payload into the heap; Map*Array give views of a
// read-only mapping (mapping.h; lifetime rules there) without copying, except
// for an int64 payload of a version-1 file that happens to be misaligned,
// which is copied.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/bundle/array_store.h"
#include "common/bundle/mapping.h"

namespace recsys {

inline constexpr uint32_t kArrayFormatVersion = 2;
inline constexpr size_t kArrayHeaderAlignment = 16;

enum class DType : uint32_t { kFloat32 = 1, kInt32 = 2, kInt64 = 3, kString = 4 };

template <typename T>
struct Array {
  std::vector<uint64_t> dims;
  std::vector<T> values;  // row-major, size prod(dims)
};

// An array whose values are (normally) a view of a mapped file.
template <typename T>
struct MappedArray {
  std::vector<uint64_t> dims;
  ArrayStore<T> values;  // row-major, size prod(dims)
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

// Maps `path` read-only and checks it as the readers do.
absl::StatusOr<MappedArray<float>> MapFloatArray(const std::string& path);
absl::StatusOr<MappedArray<int32_t>> MapInt32Array(const std::string& path);
absl::StatusOr<MappedArray<int64_t>> MapInt64Array(const std::string& path);

// The same over a file already mapped (e.g. one whose checksum was verified
// over this very mapping); the result shares `file`.
absl::StatusOr<MappedArray<float>> MapFloatArray(std::shared_ptr<const Mapping> file);
absl::StatusOr<MappedArray<int32_t>> MapInt32Array(std::shared_ptr<const Mapping> file);
absl::StatusOr<MappedArray<int64_t>> MapInt64Array(std::shared_ptr<const Mapping> file);
// A string array parsed from a mapped file (the strings are copied).
absl::StatusOr<std::vector<std::string>> ParseStringArray(const Mapping& file);

// Generic forms for templates: T is float, int32_t or int64_t.
template <typename T>
absl::StatusOr<MappedArray<T>> MapArray(std::shared_ptr<const Mapping> file);

}  // namespace recsys
