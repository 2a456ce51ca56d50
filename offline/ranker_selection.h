// Choosing and fitting the ranker on the validation pools: every fifth
// validation case is held out of a first fit of each objective (pointwise and
// listwise logistic regression); the objective with the better held-out NDCG@k
// is refit on every row.
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
};

// `rows` are EvaluatePass's training rows (one group per case, rows of a group
// adjacent). Listwise wins ties.
RankerChoice SelectAndFitRanker(const PassOutput& rows, int k, const RankerParams& params);

// NDCG@k of the positive row within each group of `groups` when rows are
// ordered by `scores` (higher first, ties by row order), averaged over groups.
double GroupNdcg(std::span<const float> scores, std::span<const uint8_t> labels,
                 std::span<const int32_t> groups, int k);

}  // namespace recsys::offline
