// Implicit-feedback ALS (Hu, Koren & Volinsky 2008) with the conjugate-gradient
// solver (Takács et al. 2011), and the fold-in that serving calls per request.
//
// Preference p_ui = 1 for every observed (user, item); confidence
// c_ui = 1 + alpha * w_ui, where w_ui sums the user's events on the item
// (each event counts 1: ratings are treated as implicit events).
// Loss: sum_ui c_ui (p_ui - x_u.y_i)^2 + reg (|x_u|^2 + |y_i|^2).
// Fit lives in als_fit.cc (the fitting library); fold-in, Save and Load in
// als.cc (serving).
// Immutable after Fit/Load; const methods are safe to call concurrently.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/bundle/array_store.h"
#include "common/data/dataset.h"

namespace recsys {

class BundleFiles;  // common/bundle/bundle_files.h

struct AlsParams {
  int factors = 64;
  double reg = 0.1;
  double alpha = 10.0;
  int iterations = 15;  // at most
  // Stops early once an iteration lowers the training loss by less than this
  // fraction (0 = always run every iteration). Large data sets converge in a
  // few iterations (10^6 users and items: ~7); the bundled MovieLens set never
  // falls below this in any tuned setting, so it keeps every iteration (> 0.18% per
  // iteration at the defaults).
  double tolerance = 3e-4;
  int cg_steps = 3;
  int threads = 2;
  uint64_t seed = 42;
};

// Optional by-products of AlsModel::Fit (tests, diagnostics); not saved.
struct AlsFitInfo {
  std::vector<float> user_factors;  // num_users x factors row-major, as trained
  std::vector<double> loss;         // training loss after each iteration run (early stopping may end before `iterations`)
};

class AlsModel {
 public:
  AlsModel() = default;
  // Fits on `events` (user and item indices < num_users / num_items; others are
  // skipped). Cost per iteration O(cg_steps (nnz f + (users + items) f^2)),
  // spread over params.threads threads; the result does not depend on threads.
  // `info`, if not null, receives the user factors and per-iteration loss.
  static AlsModel Fit(std::span<const Interaction> events, int32_t num_users, int32_t num_items,
                      const AlsParams& params, AlsFitInfo* info = nullptr);

  // User vector for a history (items may repeat; each occurrence adds alpha to
  // the confidence), solving the user half-step exactly against the fixed item
  // factors: (YtY + Yt(C-I)Y + reg I) x = Yt C p, in float: one blocked rank-n
  // update of the cached YtY + reg I by the n distinct history rows, then a
  // Cholesky solve. Cost O(n f^2 + f^3) flops and (n + f) f floats of scratch.
  // Unknown indices (< 0 or >= num_items) are ignored. Size factors().
  std::vector<float> FoldIn(std::span<const ItemIndex> history) const;
  // Weighted form: occurrence k adds alpha * weights[k] to its item's
  // confidence (recency weighting); `weights` has the size of `history`.
  std::vector<float> FoldIn(std::span<const ItemIndex> history,
                            std::span<const float> weights) const;

  // Item factors, num_items x factors row-major. Owned after Fit, a view of
  // the mapped file after Load.
  const ArrayStore<float>& item_factors() const { return item_factors_; }
  const float* item_factor(ItemIndex i) const { return item_factors_.data() + int64_t{i} * factors_; }
  int factors() const { return factors_; }
  int32_t num_items() const { return num_items_; }
  double alpha() const { return alpha_; }
  double reg() const { return reg_; }

  // Files als_items.arr and als_meta.arr; returns the written names.
  absl::StatusOr<std::vector<std::string>> Save(const std::string& dir) const;
  // Load maps the item factors (a view that keeps the file mapped; mapping.h)
  // and computes the fold-in's YtY from them (one pass over every page).
  static absl::StatusOr<AlsModel> Load(const std::string& dir);
  static absl::StatusOr<AlsModel> Load(BundleFiles& files);

 private:
  int factors_ = 0;
  int32_t num_items_ = 0;
  double alpha_ = 0, reg_ = 0;
  ArrayStore<float> item_factors_;
  // YtY + reg I, factors x factors (symmetric), cached for fold-in; computed
  // the same way by Fit and Load, so a loaded model folds in bit-identically.
  std::vector<float> normal_base_;
};

}  // namespace recsys
