// Everything the trainer is told: data, registry, model hyper-parameters,
// serving-parameter starting values, tuning budget and ranker settings.
#pragma once

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "common/bundle/model_bundle.h"
#include "common/index/vector_index.h"
#include "common/data/loader.h"
#include "common/models/logistic_ranker.h"

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
  double ease_lambda = 100.0;      // fixed: each EASE fit costs seconds (see docs/evaluation.md)
  int32_t ease_max_items = 6000;  // EASE covers at most this many (most popular) items
  // Entries kept per row of B (largest |value|, stored sparse); 0 = dense.
  // See docs/evaluation.md, "EASE pruning".
  int ease_keep = 256;
  // The sequence-aware SLIST model (common/models/slist.h); its input rule
  // (window, decays) starts from serving.slist_inputs.
  bool slist = true;
  SlistOptions slist_options;
  int markov_top_n = 100;
  // The content and ALS indexes: exact up to index.flat_max_items items, HNSW
  // above (the trainer then measures recall and picks ef_search).
  VectorIndexOptions index;
  ServingParams serving;                           // starting values; tuning overwrites them
  absl::Duration tune_budget = absl::Seconds(30);  // zero disables tuning
  // Large data: users evaluated (a deterministic sample; 0 = all), users the
  // tuning evaluates (a sample of those), and cases whose candidate pools
  // train the ranker (bounds its training set at ~cases x max_pool rows).
  int64_t eval_users = 10000;
  int64_t tune_users = 2000;
  int64_t ranker_cases = 2000;
  RankerParams ranker;
  std::string json_path;  // leaderboard JSON, if set
  // The evaluation report's data (diagnostics.h) over the test cases, if set.
  std::string diagnostics_path;
};

}  // namespace recsys::offline
