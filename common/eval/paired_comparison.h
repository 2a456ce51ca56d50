// Comparing one leaderboard row of two bundles case by case: is B's recall@k
// / NDCG@k different from A's beyond the noise of the evaluated sample?
//
// When both were evaluated on (nearly) the same cases, the comparison is
// paired: each case's difference B − A, whose mean has a much narrower
// interval than the two rows' own intervals suggest (most of a row's spread
// is which users are easy, and that is shared). When the cases differ
// (another data set, split or sample), it falls back to the unpaired
// difference of the two means with the rows' half-widths combined, and says
// so.
//
// Cost: O(|A| + |B|) time and memory (one hash map of A's keys). Pure
// functions; safe to call concurrently.
#pragma once

#include <cstdint>

#include "common/eval/case_results.h"

namespace recsys {

struct PairingOptions {
  // Paired when the matched cases are at least this fraction of the smaller
  // side and at least `min_matched` in number.
  double min_matched_fraction = 0.9;
  int64_t min_matched = 30;
};

enum class Verdict {
  kBetter,                   // the 95% interval of B − A lies above zero
  kWorse,                    // ... below zero
  kNoSignificantDifference,  // it contains zero
};
// "better", "worse", "no significant difference".
const char* VerdictName(Verdict v);

// B − A for one metric, with its 95% interval [low, high].
struct MetricDifference {
  // Means of A and B over the cases compared: the matched cases when paired,
  // each side's own cases otherwise.
  double mean_a = 0, mean_b = 0;
  double difference = 0;  // mean_b − mean_a
  // Infinite when a side has fewer than 2 cases (no spread to estimate).
  double low = 0, high = 0;
  Verdict verdict() const;
};

struct RowComparison {
  bool paired = false;
  int64_t cases_a = 0, cases_b = 0;
  int64_t matched = 0;  // keys present on both sides
  MetricDifference recall, ndcg;
};

// Compares row `b` against row `a` (B − A). Paired: the mean of the matched
// cases' differences with a paired t interval. Unpaired: the difference of
// the two rows' means over all their cases, interval half-width
// sqrt(h_a² + h_b²) where h = 1.96 · sd / sqrt(n) is each row's own 95%
// half-width (the leaderboard's `*_ci95`).
RowComparison CompareRows(const CaseRowView& a, const CaseRowView& b,
                          const PairingOptions& options = {});

// The 0.975 quantile of Student's t with `df` degrees of freedom (df ≥ 1):
// tabulated to 30, a Cornish-Fisher expansion beyond (error < 1e-4).
double StudentT975(int64_t df);

}  // namespace recsys
