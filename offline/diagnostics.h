// What the evaluation report draws beyond the leaderboard, gathered in one
// pass over a split's cases through the same retrieval library and ranker the
// services run:
//   - each source's recall at increasing list depths (how deep a source must
//     go to find the held-out item) and the pool's recall at its size;
//   - each source's share of the final top-k lists (an item found by several
//     sources counts for each) and the share only that source found;
//   - calibration of the ranker's click probability over the pools: predicted
//     vs observed rate in bins of predicted probability (log-spaced);
//   - the ranker's weights per feature (in standardised units, comparable).
// Memory is bounded by sources x depths and the bins, not by the catalogue or
// the number of cases; the cost is one more pass over the (sampled) cases.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/bundle/model_bundle.h"
#include "common/eval/split.h"

namespace recsys::offline {

struct CalibrationBin {
  double lo = 0, hi = 0;  // predicted probability range [lo, hi)
  int64_t count = 0;      // pool candidates predicted in the range
  double predicted_sum = 0;
  int64_t positives = 0;  // of them, the held-out item
};

struct Diagnostics {
  std::string split;
  int k = 10;
  int64_t cases = 0;
  std::vector<int> depths;  // list depths for the recall curves, ascending
  std::array<bool, kNumSources> available{};
  // hits[s][d]: cases whose target is in source s's first depths[d] items.
  std::array<std::vector<int64_t>, kNumSources> hits;
  std::array<int, kNumSources> fetched{};  // items each source was asked for
  int64_t pool_hits = 0;
  int64_t pool_size_sum = 0;
  // Final top-k slots filled, and per source those it retrieved / it alone retrieved.
  int64_t final_slots = 0;
  std::array<int64_t, kNumSources> final_from{};
  std::array<int64_t, kNumSources> final_only{};
  std::vector<CalibrationBin> calibration;
};

// Depths 1, 2, 5, 10, 20, 50, 100, ... up to `max_depth` (included).
std::vector<int> DiagnosticDepths(int max_depth);

// Runs the pass over `cases` of `split` with `threads` threads. Each source is
// asked for its whole quota-or-depth (the largest depth).
Diagnostics Diagnose(const ModelBundle& bundle, const LeaveLastOutSplit& split,
                     std::span<const EvalCase> cases, SplitName which, int k, int threads);

// The report's input as one JSON object (also holds the ranker's weights with
// the feature names and `final_order`, the manifest's description of the
// served list).
std::string DiagnosticsJson(const Diagnostics& d, const ModelBundle& bundle,
                            const std::string& final_order);

}  // namespace recsys::offline
