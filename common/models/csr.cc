#include "common/models/csr.h"

#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/bundle/array_file.h"
#include "common/bundle/bundle_files.h"
#include "common/status.h"

namespace recsys {
namespace {

std::string JoinPath(const std::string& dir, const std::string& name) {
  return absl::StrCat(dir, "/", name);
}

template <typename T>
absl::StatusOr<Array<T>> ReadArray(const std::string& path) {
  if constexpr (std::is_same_v<T, float>) {
    return ReadFloatArray(path);
  } else if constexpr (std::is_same_v<T, int32_t>) {
    return ReadInt32Array(path);
  } else {
    static_assert(std::is_same_v<T, int64_t>);
    return ReadInt64Array(path);
  }
}

template <typename T>
absl::Status WriteArray(const std::string& path, std::span<const T> values) {
  const std::vector<uint64_t> dims = {values.size()};
  if constexpr (std::is_same_v<T, float>) {
    return WriteFloatArray(path, dims, values.data());
  } else if constexpr (std::is_same_v<T, int32_t>) {
    return WriteInt32Array(path, dims, values.data());
  } else {
    static_assert(std::is_same_v<T, int64_t>);
    return WriteInt64Array(path, dims, values.data());
  }
}

// The values of a 1-d array file, or DataLoss naming it.
template <typename T>
absl::StatusOr<std::vector<T>> ReadVector(const std::string& path) {
  ASSIGN_OR_RETURN(Array<T> array, ReadArray<T>(path));
  if (array.dims.size() != 1) {
    return absl::DataLossError(
        absl::StrCat(path, ": expected a 1-d array, got ", array.dims.size(), " dimensions"));
  }
  return std::move(array.values);
}

template <typename... Parts>
absl::Status Corrupt(const std::string& name, const Parts&... parts) {
  return absl::DataLossError(absl::StrCat(name, ": ", parts...));
}

}  // namespace

CsrFiles CsrFiles::WithPrefix(absl::string_view prefix) {
  return CsrFiles{absl::StrCat(prefix, ".offsets.arr"), absl::StrCat(prefix, ".ids.arr"),
                  absl::StrCat(prefix, ".values.arr")};
}

template <typename V>
absl::Status Csr<V>::Validate(const CsrShape& shape, const CsrFiles& names) const {
  if (offsets.empty()) return Corrupt(names.offsets, "no offsets (a CSR has rows + 1)");
  const int64_t rows = static_cast<int64_t>(offsets.size()) - 1;
  if (shape.rows.has_value() && rows != *shape.rows) {
    return Corrupt(names.offsets, offsets.size(), " offsets, expected ", *shape.rows + 1,
                   " (rows + 1)");
  }
  if (rows > shape.max_rows) {
    return Corrupt(names.offsets, rows, " rows exceed the limit of ", shape.max_rows);
  }
  const int64_t n = nnz();
  if (offsets[0] != 0) return Corrupt(names.offsets, "offsets[0] = ", offsets[0], ", expected 0");
  for (int64_t r = 1; r <= rows; ++r) {
    if (offsets[r] < 0 || offsets[r] > n) {
      return Corrupt(names.offsets, "offsets[", r, "] = ", offsets[r], " outside [0, ", n, "] (",
                     names.ids, " has ", n, " entries)");
    }
    if (offsets[r] < offsets[r - 1]) {
      return Corrupt(names.offsets, "offsets[", r, "] = ", offsets[r], " < offsets[", r - 1,
                     "] = ", offsets[r - 1], " (offsets must not decrease)");
    }
  }
  if (offsets[rows] != n) {
    return Corrupt(names.offsets, "last offset ", offsets[rows], " != the ", n, " entries of ",
                   names.ids);
  }
  if (names.values.empty()) {
    if (!values.empty()) {
      return Corrupt(names.ids, "a pattern-only CSR with ", values.size(), " values");
    }
  } else if (static_cast<int64_t>(values.size()) != n) {
    return Corrupt(names.values, values.size(), " values, expected one per entry of ", names.ids,
                   " (", n, ")");
  }
  const int64_t cols = shape.num_cols.value_or(rows);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = offsets[r]; k < offsets[r + 1]; ++k) {
      const int32_t id = ids[k];
      if (id < 0 || id >= cols) {
        return Corrupt(names.ids, "row ", r, " has id ", id, " outside [0, ", cols, ")");
      }
      if (shape.sorted_rows && k > offsets[r] && id <= ids[k - 1]) {
        return Corrupt(names.ids, "row ", r, " ids not strictly ascending (", ids[k - 1],
                       " then ", id, ")");
      }
    }
  }
  return absl::OkStatus();
}

template <typename V>
absl::StatusOr<std::vector<std::string>> SaveCsrArrays(const std::string& dir,
                                                       const CsrFiles& files,
                                                       std::span<const int64_t> offsets,
                                                       std::span<const int32_t> ids,
                                                       std::span<const V> values) {
  RETURN_IF_ERROR(WriteArray(JoinPath(dir, files.offsets), offsets));
  RETURN_IF_ERROR(WriteArray(JoinPath(dir, files.ids), ids));
  if (files.values.empty()) return std::vector<std::string>{files.offsets, files.ids};
  RETURN_IF_ERROR(WriteArray(JoinPath(dir, files.values), values));
  return std::vector<std::string>{files.offsets, files.ids, files.values};
}

template <typename V>
absl::StatusOr<std::vector<std::string>> Csr<V>::Save(const std::string& dir,
                                                      const CsrFiles& files) const {
  return SaveCsrArrays<V>(dir, files, offsets, ids, values);
}

template <typename V>
absl::StatusOr<Csr<V>> Csr<V>::Load(const std::string& dir, const CsrFiles& files,
                                    const CsrShape& shape) {
  const CsrFiles paths{JoinPath(dir, files.offsets), JoinPath(dir, files.ids),
                       files.values.empty() ? std::string() : JoinPath(dir, files.values)};
  Csr csr;
  ASSIGN_OR_RETURN(csr.offsets, ReadVector<int64_t>(paths.offsets));
  ASSIGN_OR_RETURN(csr.ids, ReadVector<int32_t>(paths.ids));
  if (!paths.values.empty()) {
    ASSIGN_OR_RETURN(csr.values, ReadVector<V>(paths.values));
  }
  RETURN_IF_ERROR(csr.Validate(shape, paths));
  return csr;
}

template <typename V>
absl::StatusOr<Csr<V>> Csr<V>::Map(BundleFiles& bundle, const CsrFiles& files,
                                   const CsrShape& shape) {
  const CsrFiles paths{bundle.Path(files.offsets), bundle.Path(files.ids),
                       files.values.empty() ? std::string() : bundle.Path(files.values)};
  Csr csr;
  ASSIGN_OR_RETURN(csr.offsets, bundle.MapVector<int64_t>(files.offsets));
  ASSIGN_OR_RETURN(csr.ids, bundle.MapVector<int32_t>(files.ids));
  if (!files.values.empty()) {
    ASSIGN_OR_RETURN(csr.values, bundle.MapVector<V>(files.values));
  }
  RETURN_IF_ERROR(csr.Validate(shape, paths));
  return csr;
}

template struct Csr<float>;
template struct Csr<int64_t>;
template absl::StatusOr<std::vector<std::string>> SaveCsrArrays<float>(
    const std::string&, const CsrFiles&, std::span<const int64_t>, std::span<const int32_t>,
    std::span<const float>);
template absl::StatusOr<std::vector<std::string>> SaveCsrArrays<int64_t>(
    const std::string&, const CsrFiles&, std::span<const int64_t>, std::span<const int32_t>,
    std::span<const int64_t>);

}  // namespace recsys
