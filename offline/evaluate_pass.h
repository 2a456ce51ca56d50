// One evaluation pass of a bundle over a split, through the retrieval library
// exactly as the retrieval service runs it (sequentially here): every source
// alone, the pool, and the two-stage list; optionally the ranker's training
// rows from the pools.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "absl/time/time.h"
#include "common/bundle/model_bundle.h"
#include "common/eval/list_metrics.h"
#include "common/eval/split.h"
#include "common/features/features.h"
#include "offline/evaluator.h"

namespace recsys::offline {

struct PassOutput {
  // Ranker training rows gathered from the pools (features + labels), only
  // for cases whose target is in the pool; group[i] = case of row i.
  FeatureMatrix features;
  std::vector<uint8_t> labels;
  std::vector<int32_t> group;
};

// The diversity and novelty inputs of `bundle`'s lists: its content item
// embeddings and its catalogue's training popularity (views into `bundle`,
// which must outlive the result). O(num_items) for the popularity total.
ListQuality BundleListQuality(const ModelBundle& bundle);

// Appends to `rows` one row per source the bundle has (each asked for
// max(quota, k) candidates), the pool row (recall at the pool's size) and, with
// `with_ranker`, the two-stage row, over `cases` of `split` (rows named
// `which`). With `collect_rows`, returns the ranker's training rows (label 1 =
// the case's target; group = position in `cases`). Uses `threads` threads.
PassOutput EvaluatePass(const ModelBundle& bundle, const LeaveLastOutSplit& split,
                        std::span<const EvalCase> cases, SplitName which, int k, int threads,
                        bool with_ranker, bool collect_rows, std::vector<LeaderboardRow>* rows);
// Over every case of `which`.
inline PassOutput EvaluatePass(const ModelBundle& bundle, const LeaveLastOutSplit& split,
                               SplitName which, int k, int threads, bool with_ranker,
                               bool collect_rows, std::vector<LeaderboardRow>* rows) {
  return EvaluatePass(bundle, split, split.cases(which), which, k, threads, with_ranker,
                      collect_rows, rows);
}

// NDCG@k of one source alone over `cases` of `split` (the tuning objective).
// Returns nullopt when `deadline` passes before every case is evaluated (a
// partial mean over a different subset would not compare with the others).
std::optional<double> SourceNdcg(const ModelBundle& bundle, const LeaveLastOutSplit& split,
                                 std::span<const EvalCase> cases, SourceId source, int k,
                                 int threads, absl::Time deadline = absl::InfiniteFuture());

}  // namespace recsys::offline
