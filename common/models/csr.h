// Compressed sparse rows (CSR) and their array files.
//
// Row r's entries are [offsets[r], offsets[r + 1]) of `ids` and `values`:
// `offsets` has rows + 1 entries, starts at 0, never decreases and ends at
// nnz = ids.size(); every id lies in [0, num_cols). On disk a CSR is two or
// three 1-d array files (common/bundle/array_file.h): int64 offsets, int32 ids
// and, unless the CSR is a sparsity pattern only, the values (float32 or
// int64). Load validates all of it before returning, so a corrupt bundle is
// refused with a DataLoss status naming the file instead of being indexed out
// of bounds at serving time.
// Storage: each array is an ArrayStore (common/bundle/array_store.h): owned
// vectors when fit code builds the CSR or Load reads it, views of the bundle's
// mapped files when Map gives it (the CSR then keeps those mappings alive).
// Immutable after Load/Map; const methods are safe to call concurrently.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/bundle/array_store.h"

namespace recsys {

class BundleFiles;  // common/bundle/bundle_files.h

// Names of a CSR's arrays: file names relative to a bundle directory for
// Save/Load, or labels for Validate's messages.
struct CsrFiles {
  std::string offsets;
  std::string ids;
  // Empty: the CSR has no values array (a sparsity pattern only), and its
  // `values` must be empty.
  std::string values;

  // "<prefix>.offsets.arr", "<prefix>.ids.arr", "<prefix>.values.arr".
  static CsrFiles WithPrefix(absl::string_view prefix);
};

// What Validate requires beyond the CSR invariants.
struct CsrShape {
  // Exact number of rows; nullopt: any number up to max_rows.
  std::optional<int64_t> rows;
  int64_t max_rows = std::numeric_limits<int32_t>::max();
  // Ids must be < num_cols; nullopt: the number of rows (a square matrix).
  std::optional<int64_t> num_cols;
  // Ids strictly ascending within each row.
  bool sorted_rows = false;

  // Exactly `rows` rows with ids < num_cols.
  static CsrShape Exact(int64_t rows, int64_t num_cols) {
    CsrShape shape;
    shape.rows = rows;
    shape.num_cols = num_cols;
    return shape;
  }
};

// V is float or int64_t (the explicit instantiations in csr.cc).
template <typename V>
struct Csr {
  ArrayStore<int64_t> offsets;  // rows + 1
  ArrayStore<int32_t> ids;      // nnz
  ArrayStore<V> values;         // nnz, or empty for a pattern

  int32_t rows() const { return offsets.empty() ? 0 : static_cast<int32_t>(offsets.size() - 1); }
  int64_t nnz() const { return static_cast<int64_t>(ids.size()); }
  // Row r's ids / values; r in [0, rows()).
  std::span<const int32_t> row_ids(int32_t r) const {
    return {ids.data() + offsets[r], static_cast<size_t>(offsets[r + 1] - offsets[r])};
  }
  std::span<const V> row_values(int32_t r) const {
    return {values.data() + offsets[r], static_cast<size_t>(offsets[r + 1] - offsets[r])};
  }

  // OK, or DataLoss naming the array (by its name in `names`) and the first
  // violation: offsets count, first offset, an offset outside [0, nnz], a
  // decreasing offset, last offset != nnz, values count, an id out of range
  // or (sorted_rows) out of order. O(rows + nnz).
  absl::Status Validate(const CsrShape& shape,
                        const CsrFiles& names = {"offsets", "ids", "values"}) const;

  // Writes the arrays `files` names into `dir` (1-d arrays; no values file
  // when files.values is empty); returns the written names, in the order
  // offsets, ids, values.
  absl::StatusOr<std::vector<std::string>> Save(const std::string& dir,
                                                const CsrFiles& files) const;
  // Reads (into owned vectors) and validates the arrays `files` names in `dir`.
  static absl::StatusOr<Csr> Load(const std::string& dir, const CsrFiles& files,
                                  const CsrShape& shape);
  // The same as views of `bundle`'s mappings (no copy); Validate touches
  // every page of the offsets and ids once.
  static absl::StatusOr<Csr> Map(BundleFiles& bundle, const CsrFiles& files,
                                 const CsrShape& shape);
};

// Save for arrays that live outside a Csr (same files, same bytes).
template <typename V>
absl::StatusOr<std::vector<std::string>> SaveCsrArrays(const std::string& dir,
                                                       const CsrFiles& files,
                                                       std::span<const int64_t> offsets,
                                                       std::span<const int32_t> ids,
                                                       std::span<const V> values);

// Top-N neighbour lists over items (item-kNN similarities, Markov
// transitions): row i holds item i's neighbours and their scores.
using SparseNeighbors = Csr<float>;

}  // namespace recsys
