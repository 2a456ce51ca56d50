// What the content model's fit (content_fit.cc) and its serving half
// (content.cc) share: the one path from tokens to a TF-IDF row and from a row
// to an embedding, so an item's document embeds exactly like the item.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace recsys::content_internal {

using TermIndex = absl::flat_hash_map<std::string, int32_t>;

// Sparse TF-IDF row: (term, weight), sorted by term, L2-normalised.
using SparseRow = std::vector<std::pair<int32_t, float>>;

// TF = 1 + log(count), times IDF; unknown tokens are ignored. The one function
// that turns tokens into a row, for catalogue items and new text alike.
SparseRow TfIdfRow(const std::vector<std::string>& tokens, const TermIndex& term_index,
                   const std::vector<float>& idf);

// out[0..dim) = normalise(row * V); all zeros if the product is zero.
void ProjectRow(const SparseRow& row, std::span<const float> projection, int dim, float* out);

}  // namespace recsys::content_internal
