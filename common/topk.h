// Top-k selection with a deterministic order: score descending, then item index
// ascending (so equal scores never make results depend on the platform).
#pragma once

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "common/data/dataset.h"

namespace recsys {

struct ScoredIndex {
  ItemIndex item;
  float score;
};

// True if a should be ranked before b.
inline bool RanksBefore(const ScoredIndex& a, const ScoredIndex& b) {
  return a.score > b.score || (a.score == b.score && a.item < b.item);
}

// The best `k` entries of a dense score vector (one score per item), skipping
// items where skip(item) is true and scores that are NaN or -inf.
// Cost O(n log k); `scores` has size num_items.
template <typename SkipFn>
std::vector<ScoredIndex> TopKDense(std::span<const float> scores, int k, SkipFn&& skip) {
  std::vector<ScoredIndex> heap;  // worst entry at the front
  if (k <= 0) return heap;
  heap.reserve(k + 1);
  auto worse = [](const ScoredIndex& a, const ScoredIndex& b) { return RanksBefore(a, b); };
  for (ItemIndex i = 0; i < static_cast<ItemIndex>(scores.size()); ++i) {
    const float s = scores[i];
    if (std::isnan(s) || s == -INFINITY) continue;
    ScoredIndex e{i, s};
    const bool full = static_cast<int>(heap.size()) >= k;
    // The cheap comparison first: most items lose to the current k-th best,
    // and skip() (a hash lookup) is then never asked.
    if (full && !RanksBefore(e, heap.front())) continue;
    if (skip(i)) continue;
    if (!full) {
      heap.push_back(e);
      std::push_heap(heap.begin(), heap.end(), worse);
    } else {
      std::pop_heap(heap.begin(), heap.end(), worse);
      heap.back() = e;
      std::push_heap(heap.begin(), heap.end(), worse);
    }
  }
  std::sort(heap.begin(), heap.end(), RanksBefore);
  return heap;
}

// Sorts a candidate list in rank order and truncates it to k.
inline void SortAndTruncate(std::vector<ScoredIndex>* list, int k) {
  if (static_cast<int>(list->size()) > k) {
    std::partial_sort(list->begin(), list->begin() + k, list->end(), RanksBefore);
    list->resize(k);
  } else {
    std::sort(list->begin(), list->end(), RanksBefore);
  }
}

}  // namespace recsys
