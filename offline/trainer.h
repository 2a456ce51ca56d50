// The offline trainer: load → leave-last-out split → fit every model → tune on
// validation → train the ranker on validation pools → evaluate on test →
// (optionally refit on every event) → publish a bundle to the registry.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/bundle/model_bundle.h"
#include "common/data/loader.h"
#include "common/eval/split.h"
#include "common/models/logistic_ranker.h"
#include "offline/evaluator.h"

namespace recsys::offline {

struct TrainOptions {
  std::string data_dir = "data/ml-latest-small";
  LoadOptions load;
  std::string registry = "registry";
  std::string name = "movielens";
  // false: evaluation bundle (fit without the held-out events);
  // true: evaluate the same way, then refit on every event before publishing.
  bool production = false;
  bool publish = true;
  int k = 10;
  uint64_t seed = 42;
  int threads = 2;
  ContentParams content;
  ItemKnnParams itemknn;
  AlsParams als;
  bool ease = true;
  double ease_lambda = 100.0;  // fixed: each EASE fit costs seconds (see docs/evaluation.md)
  int32_t ease_max_items = 20000;  // EASE only for catalogues up to this size
  // Entries kept per row of B (largest |value|, stored sparse); 0 = dense.
  // See docs/evaluation.md, "EASE pruning".
  int ease_keep = 256;
  int markov_top_n = 100;
  ServingParams serving;           // starting values; tuning overwrites them
  absl::Duration tune_budget = absl::Seconds(30);  // zero disables tuning
  RankerParams ranker;
  std::string json_path;           // leaderboard JSON, if set
};

struct TrainResult {
  std::string version;
  std::string bundle_dir;  // empty when not published
  std::vector<LeaderboardRow> leaderboard;
  double ranker_auc = 0;
  double seconds = 0;
};

absl::StatusOr<TrainResult> Train(const TrainOptions& options);

// Fits every model of a bundle on `events` with fixed parameters (no tuning,
// no ranker). Exposed for tests and benchmarks.
absl::StatusOr<std::unique_ptr<ModelBundle>> FitBundle(const Dataset& data,
                                                       std::span<const Interaction> events,
                                                       const TrainOptions& options,
                                                       const ServingParams& serving);

// Per-split evaluation of every source alone, the pool and (when the bundle has
// a trained ranker) the two-stage list. Rows are appended to `rows`.
struct PassOutput {
  // Ranker training rows gathered from the pools (features + labels), only
  // for cases whose target is in the pool; group[i] = case of row i.
  FeatureMatrix features;
  std::vector<uint8_t> labels;
  std::vector<int32_t> group;
};
PassOutput EvaluatePass(const ModelBundle& bundle, const LeaveLastOutSplit& split, SplitName which,
                        int k, int threads, bool with_ranker, bool collect_rows,
                        std::vector<LeaderboardRow>* rows);

}  // namespace recsys::offline
