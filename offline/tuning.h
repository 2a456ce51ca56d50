// Tuning on validation: serving parameters and model hyper-parameters, one
// small grid per parameter, cheapest first, each scored by the validation
// NDCG@k of its own source alone, within a wall-clock budget.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "common/bundle/model_bundle.h"
#include "common/eval/split.h"
#include "google/protobuf/map.h"
#include "offline/fit_bundle.h"
#include "offline/train_options.h"

namespace recsys::offline {

// The model hyper-parameters tuning settled on (the production refit reuses them).
struct TunedModels {
  ItemKnnParams itemknn;
  AlsParams als;
};

// Tunes against a sample of `split`'s validation cases (options.tune_users),
// starting from `options`. Each grid leaves `bundle` fit with its best
// setting, so on return the bundle's models and `bundle->params` are the
// tuned ones. The budget holds inside a grid: a candidate starts only when its
// predicted refit (from `fit_times`) and evaluation fit in what is left, and
// an evaluation the deadline interrupts is dropped; a grid cut short keeps the
// best setting seen so far. Every choice is recorded in `recorded`
// ("tuned.<name>", "tuned.<name>.validation_ndcg", "tuning.truncated.<name>",
// "tuning.users").
absl::StatusOr<TunedModels> Tune(const Dataset& data, const LeaveLastOutSplit& split,
                                 const TrainOptions& options, const FitTimes& fit_times,
                                 ModelBundle* bundle,
                                 google::protobuf::Map<std::string, std::string>* recorded);

}  // namespace recsys::offline
