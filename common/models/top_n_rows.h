// Building top-N neighbour lists row by row, for the fits that produce them
// (item-kNN, Markov transitions).
#pragma once

#include <vector>

#include "common/models/csr.h"
#include "common/topk.h"

namespace recsys {

// Keeps the best `n` of (ids, values) by value (ties by id), appended to out.
inline void AppendTopN(std::vector<ScoredIndex>* row, int n, SparseNeighbors* out) {
  SortAndTruncate(row, n);
  for (const ScoredIndex& s : *row) {
    out->ids.push_back(s.item);
    out->values.push_back(s.score);
  }
  out->offsets.push_back(static_cast<int64_t>(out->ids.size()));
}

}  // namespace recsys
