// The manifest of a trained bundle: identity (name, version, kind), the data it
// was fit on (fingerprint, format, sizes), every parameter, the leaderboard and
// the ranker's held-out AUC. The registry adds the file list and checksums
// when the bundle is published (offline/publish.h).
#pragma once

#include <vector>

#include "absl/time/time.h"
#include "common/data/dataset.h"
#include "offline/evaluator.h"
#include "offline/train_options.h"
#include "recsys/v1/manifest.pb.h"

namespace recsys::offline {

// What the trainer learned besides the models.
struct TrainingOutcome {
  std::vector<LeaderboardRow> leaderboard;
  double ranker_auc = 0;
  double train_seconds = 0;
  // Events in the data set (the trainer may free data.interactions once the
  // split holds what it needs); -1 = data.interactions.size().
  int64_t num_interactions = -1;
};

// Fills `manifest` (which may already hold tuning and ranker parameters) for a
// bundle trained with `options` on `data`, at time `now`.
void FillManifest(const TrainOptions& options, const Dataset& data, const TrainingOutcome& outcome,
                  absl::Time now, v1::BundleManifest* manifest);

// SHA-256 over the loaded files' names and SHA-256s: what changes when the data does.
std::string DataFingerprint(const LoadReport& report);

}  // namespace recsys::offline
