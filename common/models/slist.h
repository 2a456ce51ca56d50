// A sequence-aware closed-form item-to-item model of the SLIST family
// (Choi et al., "Session-aware Linear Item-Item Models", WWW 2021; with the
// time-decayed, position-weighted inputs of TALE, WSDM 2025).
//
// Training rows are the prefixes of each user's history: the input of the row
// whose target is event t is the user's last `window` items before t, item k
// back (k = 0 the most recent) weighted
//   w_k = exp(-k / position_decay) * (time_floor + (1 - time_floor) * exp(-dt_k / time_tau_s)),
// dt_k the time from that item to the target (both factors off when their
// parameter is <= 0). With X the binary user x item matrix, S the weighted
// inputs and T the one-hot targets, B minimises
//   alpha ||X - X B||^2 + (1 - alpha) ||T - S B||^2 + lambda ||B||^2,
// the SLIST blend of EASE's reconstruction objective and the transition
// objective, in closed form:
//   B = (alpha XtX + (1 - alpha) StS + lambda I)^-1 (alpha XtX + (1 - alpha) StT)
// by one Cholesky factorisation and one triangular solve with n right-hand
// sides (ease_fit.cc's LAPACK). No zero-diagonal constraint: a history item's
// own column only scores items the user already has, which are never returned.
//
// Serving: a user's inputs are built by the same rule as of the request time
// (Inputs), and scores = inputs . B, stored like EASE (an EaseModel under the
// file prefix "slist": dense, or pruned to `keep` entries per row). Large
// catalogues: like EASE, the model covers the `max_items` most popular items.
// Cost of Fit: O(sum over rows of window^2 + n^3) time, 2 n^2 floats.
// Immutable after Fit/Load; const methods are safe to call concurrently.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/data/dataset.h"
#include "common/models/ease.h"

namespace recsys {

// How a history becomes the model's input (training rows and requests alike).
struct SlistInputs {
  int window = 30;               // most recent items used (>= 1)
  double position_decay = 8.0;   // items; <= 0: no position decay
  double time_tau_s = 3600.0;    // seconds; <= 0: no time factor
  double time_floor = 0.5;       // the time factor's floor, in [0, 1]
};

struct SlistOptions {
  SlistInputs inputs;
  double lambda = 200.0;  // L2 weight (> 0)
  double alpha = 0.3;     // share of the reconstruction (EASE) objective, in [0, 1]
  int keep = 256;         // entries kept per row of B (0 = dense)
  int32_t max_items = 6000;  // most popular items covered (0 = all, at most EaseModel::kMaxItems)
  // Most recent targets per user that become training rows (bounds the cost
  // for users with thousands of events; 0 = all).
  int max_rows_per_user = 1000;
  // Most training rows in all (0 = no bound): when the users' rows add up to
  // more, every user keeps the same number of most recent targets, the
  // largest that fits (heavy users lose their oldest rows first; users with
  // fewer rows keep them all). Bounds the fit's accumulation, about
  // rows x window^2 multiply-adds, at any number of events.
  int64_t max_rows = 4'000'000;
};

// The per-user row cap that keeps the sum over users of min(rows_u, cap)
// within max_rows (rows_u = a user's candidate training rows), at most
// max_rows_per_user (0 = none); 0 when no bound applies. Exposed for tests.
int64_t SlistRowsPerUser(std::span<const int64_t> rows_per_user, int64_t max_rows_per_user,
                         int64_t max_rows);

class SlistModel {
 public:
  SlistModel() = default;

  // `events` in any order; each user's history is ordered by time (ties: the
  // order in `events`). In the fitting library (slist_fit.cc).
  static absl::StatusOr<SlistModel> Fit(std::span<const Interaction> events, int32_t num_users,
                                        int32_t num_items, const SlistOptions& options);

  // The input items of `history` (oldest first, catalogue indices) as of
  // `as_of_s` with their weights, in the form the weights' Score/ScoreOne
  // take (distinct covered items, ascending model position, largest weight).
  std::vector<std::pair<ItemIndex, float>> Inputs(std::span<const Interaction> history,
                                                  int64_t as_of_s) const;
  // The same rule for any SlistInputs (training rows use it too).
  static void InputWeights(const SlistInputs& inputs, std::span<const Interaction> history,
                           int64_t as_of_s, std::vector<ItemIndex>* items,
                           std::vector<float>* weights);

  // B, stored and scored like EASE's (Score with weights, ScoreOne, ScoreAt,
  // Position, global_item).
  const EaseModel& weights() const { return b_; }
  const SlistInputs& inputs() const { return inputs_; }
  void set_inputs(const SlistInputs& inputs) { inputs_ = inputs; }

  // slist.* array files (EaseModel::Save with prefix "slist"); the inputs are
  // serving parameters of the manifest (ModelBundle).
  absl::StatusOr<std::vector<std::string>> Save(const std::string& dir) const;
  static absl::StatusOr<SlistModel> Load(const std::string& dir, const SlistInputs& inputs);

 private:
  EaseModel b_;
  SlistInputs inputs_;
};

}  // namespace recsys
