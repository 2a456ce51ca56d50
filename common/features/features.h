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
//   slist        SLIST score of the recent items (0 without SLIST)
//   then, for content_cos, als_dot, itemknn, ease, markov, last_cos, log_trend, slist:
//   the value standardised within the pool ((x - pool mean) / pool stddev),
//   so users with different score scales become comparable
#pragma once

#include <array>
#include <span>
#include <string>
#include <vector>

#include "common/models/logistic_ranker.h"
#include "common/retrieval/pool.h"

namespace recsys {

inline constexpr int kNumPoolRelative = 8;
inline constexpr int kNumFeatures = 2 * kNumSources + 14 + kNumPoolRelative;
const std::vector<std::string>& FeatureNames();

// The per-candidate values that need the user state (everything else comes
// from the candidate's source scores, the catalogue and two scalars), in this
// order: content_cos, als_dot, itemknn, ease, markov, last_cos, log_trend,
// cat_affinity, slist. Retrieval already holds the user state, so it can compute
// these for its pool and the ranking service can skip rebuilding the state.
// kSignalsSchema changes whenever this list changes.
inline constexpr int kNumSignals = 9;
inline constexpr int kSignalsSchema = 2;
using CandidateSignals = std::array<float, kNumSignals>;
const std::vector<std::string>& SignalNames();

// Zeros for an item the bundle does not know.
CandidateSignals ComputeSignals(const ModelBundle& bundle, const UserState& state, ItemIndex item);
void ComputeSignals(const ModelBundle& bundle, const UserState& state,
                    std::span<const PooledCandidate> candidates,
                    std::vector<CandidateSignals>* out);

// The user-level scalars the features need besides the signals.
struct FeatureContext {
  int64_t as_of_s = 0;       // UserState::as_of_s
  size_t history_size = 0;   // UserState::history.size() (known items)
};
FeatureContext ContextOf(const UserState& state);

// Fills `out` (candidates.size() x kNumFeatures) from precomputed signals
// (signals[i] belongs to candidates[i]). Every value is finite. Equal, bit for
// bit, to the UserState overload when the signals come from ComputeSignals
// on that state.
void ComputeFeatures(const ModelBundle& bundle, const FeatureContext& context,
                     std::span<const PooledCandidate> candidates,
                     std::span<const CandidateSignals> signals, FeatureMatrix* out);
// Same, computing the signals from `state`.
void ComputeFeatures(const ModelBundle& bundle, const UserState& state,
                     std::span<const PooledCandidate> candidates, FeatureMatrix* out);

}  // namespace recsys

namespace recsys {

// Ranker logits for a pool (computes the features; size pool.size()); the
// click probability is 1 / (1 + exp(-logit)).
void ScorePool(const ModelBundle& bundle, const UserState& state,
               std::span<const PooledCandidate> pool, std::vector<float>* scores);
// Same from precomputed signals (see ComputeFeatures).
void ScorePool(const ModelBundle& bundle, const FeatureContext& context,
               std::span<const PooledCandidate> pool, std::span<const CandidateSignals> signals,
               std::vector<float>* scores);

// The two-stage list: pool scored by the ranker, best `k` by logit (ties by
// item index); ScoredIndex::score holds the logit.
std::vector<ScoredIndex> RankPool(const ModelBundle& bundle, const UserState& state,
                                  std::span<const PooledCandidate> pool, int k);

}  // namespace recsys
