// Test helpers: small, deterministic data sets and registries with real
// trained bundles, for unit and integration tests of the services.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "offline/trainer.h"

namespace recsys::testing {

// Writes a generic-layout data set (items.csv + interactions.csv) with three
// taste clusters into `dir`: 60 items "m0".."m59" (cluster = index % 3, titles
// "Movie i, part i%7", categories SciFi / Romance / Crime with matching
// words), 90 users "u0".."u89" (cluster = index % 3) who mostly consume their
// cluster's items in a fixed order. Returns `dir`.
std::string WriteToyData(const std::string& dir);

// Trainer options for the toy data: tiny dimensions, no tuning; data in
// <root>/data, registry in <root>/registry, model name "toy".
offline::TrainOptions ToyTrainOptions(const std::string& root);

// Trains on the toy data and publishes a version (not promoted). Returns it.
absl::StatusOr<offline::TrainResult> TrainToyBundle(const std::string& root);

// A fresh directory under the test temp dir (removed first if present).
std::string FreshTempDir(const std::string& name);

}  // namespace recsys::testing
