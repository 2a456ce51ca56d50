// The offline trainer: load → leave-last-out split → fit every model
// (fit_bundle.h) → tune on validation (tuning.h) → choose and fit the ranker on
// the validation pools (ranker_selection.h) → evaluate on validation and test
// (evaluate_pass.h, beside Random and Popularity) → (optionally refit on every
// event) → manifest (bundle_manifest.h) → publish to the registry (publish.h).
// Library code: it logs progress but prints nothing; recsys-train prints the
// leaderboard.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "offline/evaluate_pass.h"
#include "offline/evaluator.h"
#include "offline/fit_bundle.h"
#include "offline/train_options.h"

namespace recsys::offline {

struct TrainResult {
  std::string version;
  std::string bundle_dir;  // empty when not published
  std::vector<LeaderboardRow> leaderboard;
  double ranker_auc = 0;
  double seconds = 0;
};

// Also writes the leaderboard JSON to options.json_path when set.
absl::StatusOr<TrainResult> Train(const TrainOptions& options);

}  // namespace recsys::offline
