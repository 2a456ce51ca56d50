// Per-request user state, computed once from (bundle, history, as-of time) and
// shared by every retrieval source and by the ranker's features. The retrieval
// service, the ranking service (when retrieval's signals are missing), the
// trainer and the evaluator all build it with this one function, so served
// results equal offline ones.
//
// Cost: O(history * (dim + factors^2 + neighbours)), plus O(items) for dense
// EASE scores when asked for; item-kNN votes are sparse and trending "now" is
// precomputed in the bundle (a past as-of costs O(events since the trending
// checkpoint before it), see TrendingAsOf). Nothing else is catalogue-sized.
// Threading: a UserState is built by one thread and then only read; reading it
// from several threads at once is safe. It points into the bundle it was built
// from (trending), which must outlive it.
#pragma once

#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "common/bundle/model_bundle.h"
#include "common/models/item_votes.h"
#include "common/models/trending.h"

namespace recsys {

struct UserState {
  // Known history items, oldest first (unknown ids already dropped).
  std::vector<Interaction> history;
  int64_t as_of_s = 0;
  // Never returned: history items plus explicit exclusions.
  absl::flat_hash_set<ItemIndex> exclude;
  std::vector<int64_t> exclude_sorted;  // same set, sorted (for FAISS filtering)
  // The bundle's shard when it was loaded as one (null: the whole catalogue).
  // Sources return only its items: Skips() is their one exclusion test.
  const CatalogueShard* shard = nullptr;
  // True for an item no source may return: excluded, or another shard's.
  bool Skips(ItemIndex item) const {
    return exclude.contains(item) || (shard != nullptr && !shard->Owns(item));
  }

  std::vector<float> profile;     // content profile (dim), L2-normalised or zero
  std::vector<float> als_vector;  // ALS fold-in (factors)
  // Item-kNN neighbour votes: only the voted items (first-vote order), O(1)
  // lookup, 0 where nobody voted.
  ItemVotes itemknn;
  std::vector<float> ease_scores;  // dense; empty without EASE or when not asked for
  std::vector<std::pair<ItemIndex, float>> ease_items;  // for per-item EASE scores
  // SLIST: dense scores (empty without the model or when not asked for) and
  // the weighted recent items for per-item scores (ScoreOne).
  std::vector<float> slist_scores;
  std::vector<std::pair<ItemIndex, float>> slist_items;
  TrendingAsOf trending;                                // as of as_of_s
  absl::flat_hash_map<ItemIndex, float> markov_scores;  // windowed transitions
  std::vector<float> category_share;  // per category: share of history items in it
  // The request's category hints (CategoryHints::categories, category_hints.h):
  // without known history (cold start) the trending source lists their items
  // first. Set by the caller after BuildUserState; ignored with known history.
  std::vector<int32_t> category_hints;
};

// `as_of_s` 0 means "now" (just after the bundle's last event). `dense_ease`
// computes EASE scores for every item (what the EASE source needs); the ranker
// only needs its candidates' scores, which EaseModel::ScoreOne gives
// bit-identically from `ease_items`.
UserState BuildUserState(const ModelBundle& bundle, std::vector<Interaction> history,
                         int64_t as_of_s, std::span<const ItemIndex> extra_exclude,
                         bool dense_ease = true);

}  // namespace recsys
