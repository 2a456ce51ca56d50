// Choosing and fitting the ranker on the validation pools: every fifth
// validation case is held out of a first fit of each objective (pointwise and
// listwise logistic regression); the objective with the better held-out NDCG@k
// is refit on every row.
//
// The final list is never worse on those held-out cases than the best single
// source or a simple blend: on the same held-out cases the chosen ranker's
// order competes with, for every source s, the ranker's margin plus beta
// standard deviations of s's reciprocal rank (beta in kBlendWeights; the
// largest is s's own order, the ranker only breaking ties among items s did
// not list). A blend is linear in the features, so it is the served model
// itself (LogisticRanker::Blended): serving does not change. The ranker wins
// ties.
#pragma once

#include "common/models/logistic_ranker.h"
#include "offline/evaluate_pass.h"

namespace recsys::offline {

struct RankerChoice {
  LogisticRanker model;  // refit on every row with the chosen objective
  bool listwise = false;
  double pointwise_ndcg = 0;  // held-out NDCG@k of the first fits
  double listwise_ndcg = 0;
  double heldout_ndcg = 0;  // of the chosen objective
  double heldout_auc = 0;   // of the chosen objective's first fit
  // The final order: the ranker alone (blend_source < 0), or blended with
  // blend_weight standard deviations of source blend_source's reciprocal rank.
  int blend_source = -1;
  double blend_weight = 0;
  double final_ndcg = 0;        // held-out NDCG@k of the final order
  double best_source_ndcg = 0;  // held-out NDCG@k of the best single source's order
  int best_source = -1;
};

// The blend weights tried for each source; the last stands for the source's
// own order.
inline constexpr double kBlendWeights[] = {0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 1000};

// `rows` are EvaluatePass's training rows (one group per case, rows of a group
// adjacent). Listwise wins ties.
RankerChoice SelectAndFitRanker(const PassOutput& rows, int k, const RankerParams& params);

// NDCG@k of the positive row within each group of `groups` when rows are
// ordered by `scores` (higher first, ties by row order), averaged over groups.
double GroupNdcg(std::span<const float> scores, std::span<const uint8_t> labels,
                 std::span<const int32_t> groups, int k);

}  // namespace recsys::offline
