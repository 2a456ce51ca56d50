// Per-request user state computed once from (bundle, history, as-of time) and
// shared by candidate generation and feature computation. The retrieval
// service, the ranking service, the trainer and the evaluator all call these
// functions: one code path, so served results equal offline ones.
#pragma once

#include <array>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "common/bundle/model_bundle.h"
#include "common/topk.h"

namespace recsys {

struct UserState {
  // Known history items, oldest first (unknown ids already dropped).
  std::vector<Interaction> history;
  int64_t as_of_s = 0;
  // Never returned: history items plus explicit exclusions.
  absl::flat_hash_set<ItemIndex> exclude;
  std::vector<int64_t> exclude_sorted;  // same set, sorted (for FAISS filtering)

  std::vector<float> profile;     // content profile (dim), L2-normalised or zero
  std::vector<float> als_vector;  // ALS fold-in (factors)
  // Item-kNN neighbour votes: dense (0 where nobody voted) + the voted items.
  std::vector<float> itemknn_scores;
  std::vector<ItemIndex> itemknn_voted;
  std::vector<float> ease_scores;      // dense; empty without EASE or when not asked for
  std::vector<std::pair<ItemIndex, float>> ease_items;  // for per-item EASE scores
  std::vector<float> trending_scores;  // dense, as of as_of_s
  absl::flat_hash_map<ItemIndex, float> markov_scores;  // windowed transitions
  std::vector<float> category_share;   // per category: share of history items in it
};

// `as_of_s` 0 means "now" (just after the bundle's last event). `dense_ease`
// computes EASE scores for every item (what the EASE source needs); the ranker
// only needs its candidates' scores, which EaseModel::ScoreOne gives
// bit-identically from `ease_items`.
UserState BuildUserState(const ModelBundle& bundle, std::vector<Interaction> history,
                         int64_t as_of_s, std::span<const ItemIndex> extra_exclude,
                         bool dense_ease = true);

// Best `k` candidates of one source, best first, never an excluded item.
absl::StatusOr<std::vector<ScoredIndex>> SourceCandidates(const ModelBundle& bundle,
                                                          const UserState& state, SourceId source,
                                                          int k);

struct PooledCandidate {
  ItemIndex item;
  std::array<float, kNumSources> score;  // 0 when absent
  std::array<int32_t, kNumSources> rank;  // -1 when absent
};

// Per-source lists merged into one deduplicated pool, ordered by best rank in
// any source, then by number of sources, then item index; cut to max_pool.
std::vector<PooledCandidate> MergePool(
    const std::array<std::vector<ScoredIndex>, kNumSources>& lists, int max_pool);

// Convenience: every source with its quota (0 disables) then MergePool.
// Sources that fail are skipped and reported in `failed` (may be null).
std::vector<PooledCandidate> RetrievePool(const ModelBundle& bundle, const UserState& state,
                                          const std::array<int, kNumSources>& quotas,
                                          int max_pool,
                                          std::vector<std::pair<SourceId, absl::Status>>* failed);

}  // namespace recsys
