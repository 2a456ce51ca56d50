// Fitting every model of a bundle on a set of events (no tuning, no ranker):
// the trainer's first step, and again for the production refit on all events.
#pragma once

#include <memory>
#include <span>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/bundle/model_bundle.h"
#include "common/data/dataset.h"
#include "offline/train_options.h"

namespace recsys::offline {

// Fits content (from item text, or from co-consumption when the data has no
// item text), item-kNN, ALS, EASE (on at most options.ease_max_items most popular items),
// trending, Markov transitions and the user histories, with `serving` as the
// bundle's serving parameters. Cost: dominated by item-kNN and ALS.
// How long each refittable model took (tuning predicts its refits from them).
struct FitTimes {
  absl::Duration itemknn, als, trending;
};

absl::StatusOr<std::unique_ptr<ModelBundle>> FitBundle(const Dataset& data,
                                                       std::span<const Interaction> events,
                                                       const TrainOptions& options,
                                                       const ServingParams& serving,
                                                       FitTimes* times = nullptr);

}  // namespace recsys::offline
