// The ranker's features: ONE function used by the trainer (to build training
// rows), the evaluator and the ranking service (to score requests), so the
// model sees identical inputs offline and online.
//
// Per candidate, in this order (kFeatureNames):
//   for each source s: score_s (0 if s did not retrieve it), 1/(1 + rank_s) (0 if absent)
//   sources      number of sources that retrieved it
//   content_cos  cosine of the candidate's embedding with the content profile
//   als_dot      ALS fold-in vector . candidate factors
//   itemknn      neighbour-vote score from the history (0 if none)
//   ease         EASE score (0 without EASE)
//   markov       windowed transition score from the last items
//   last_cos     content cosine with the last history item
//   log_pop      log(1 + training interaction count)
//   log_trend    log(1 + trending score as of the request)
//   cat_affinity mean share of the history in the candidate's categories
//   log_hist     log(1 + history length)
//   age_years    years from release to the request time (clamped 0..100)
//   age_unknown  1 if the release time is unknown
//   then, for content_cos, als_dot, itemknn, ease, markov, last_cos, log_trend:
//   the value standardised within the pool ((x - pool mean) / pool stddev),
//   so users with different score scales become comparable
#pragma once

#include <span>
#include <string>
#include <vector>

#include "common/candidates/user_state.h"
#include "common/models/ranker.h"

namespace recsys {

inline constexpr int kNumPoolRelative = 7;
inline constexpr int kNumFeatures = 2 * kNumSources + 13 + kNumPoolRelative;
const std::vector<std::string>& FeatureNames();

// Fills `out` (candidates.size() x kNumFeatures). Every value is finite.
void ComputeFeatures(const ModelBundle& bundle, const UserState& state,
                     std::span<const PooledCandidate> candidates, FeatureMatrix* out);

}  // namespace recsys

namespace recsys {

// Ranker logits for a pool (computes the features; size pool.size()); the
// click probability is 1 / (1 + exp(-logit)).
void ScorePool(const ModelBundle& bundle, const UserState& state,
               std::span<const PooledCandidate> pool, std::vector<float>* scores);

// The two-stage list: pool scored by the ranker, best `k` by logit (ties by
// item index); ScoredIndex::score holds the logit.
std::vector<ScoredIndex> RankPool(const ModelBundle& bundle, const UserState& state,
                                  std::span<const PooledCandidate> pool, int k);

}  // namespace recsys
