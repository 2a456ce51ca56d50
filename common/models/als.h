// Implicit-feedback ALS (Hu, Koren & Volinsky 2008) with the conjugate-gradient
// solver (Takács et al. 2011), and the fold-in that serving calls per request.
//
// Preference p_ui = 1 for every observed (user, item); confidence
// c_ui = 1 + alpha * w_ui, where w_ui sums the user's events on the item
// (each event counts 1: ratings are treated as implicit events).
// Loss: sum_ui c_ui (p_ui - x_u.y_i)^2 + reg (|x_u|^2 + |y_i|^2).
// Immutable after Fit/Load; const methods are safe to call concurrently.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/data/dataset.h"
#include "common/models/csr.h"

namespace recsys {

struct AlsParams {
  int factors = 64;
  double reg = 0.1;
  double alpha = 10.0;
  int iterations = 15;
  int cg_steps = 3;
  int threads = 2;
  uint64_t seed = 42;
};

// Optional by-products of AlsModel::Fit (tests, diagnostics); not saved.
struct AlsFitInfo {
  std::vector<float> user_factors;  // num_users x factors row-major, as trained
  std::vector<double> loss;         // training loss after each iteration (size iterations)
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

  // Item factors, num_items x factors row-major.
  const std::vector<float>& item_factors() const { return item_factors_; }
  const float* item_factor(ItemIndex i) const { return item_factors_.data() + int64_t{i} * factors_; }
  int factors() const { return factors_; }
  int32_t num_items() const { return num_items_; }
  double alpha() const { return alpha_; }
  double reg() const { return reg_; }

  // Files als_items.arr and als_meta.arr; returns the written names.
  absl::StatusOr<std::vector<std::string>> Save(const std::string& dir) const;
  static absl::StatusOr<AlsModel> Load(const std::string& dir);

 private:
  int factors_ = 0;
  int32_t num_items_ = 0;
  double alpha_ = 0, reg_ = 0;
  std::vector<float> item_factors_;
  // YtY + reg I, factors x factors (symmetric), cached for fold-in; computed
  // the same way by Fit and Load, so a loaded model folds in bit-identically.
  std::vector<float> normal_base_;
};

// EASE (Steck 2019): closed-form item-item regression B = I - P diagM(1/diag P),
// P = (XtX + lambda I)^-1 over binary X. Fitting needs num_items^2 floats (only
// for catalogues up to a size flag). B is kept either dense, or pruned to the
// `keep` largest-|value| entries of each row and stored sparse (CSR), which
// makes Score O(keep) per history item. Memory: num_items * keep * 8 bytes of
// CSR (also the size on disk) plus num_items^2 * 10 / 64 bytes of ScoreOne
// index, instead of num_items^2 * 4 bytes dense.
class EaseModel {
 public:
  EaseModel() = default;
  // keep = 0: dense B. keep > 0: each row keeps its `keep` largest-|value|
  // non-zero entries (ties: lower column), the rest are dropped to zero.
  static absl::StatusOr<EaseModel> Fit(std::span<const Interaction> events, int32_t num_users,
                                       int32_t num_items, double lambda, int keep = 0);
  // scores[j] = sum over the distinct history items i of B[i][j] (size
  // num_items); X is binary, so a repeated item counts once; unknown ignored.
  void Score(std::span<const ItemIndex> history, std::vector<float>* scores) const;
  // Weighted form: scores[j] = sum over distinct history items i of
  // max(weight of i's occurrences) * B[i][j]. Each scores[j] is the float sum,
  // in ascending i, of weight_i * B[i][j] over the items with a non-zero
  // weight and (sparse) a stored entry (i, j).
  void Score(std::span<const ItemIndex> history, std::span<const float> weights,
             std::vector<float>* scores) const;
  // The distinct known history items with their weights, in the order Score
  // sums them (ascending item index).
  std::vector<std::pair<ItemIndex, float>> WeightedItems(std::span<const ItemIndex> history,
                                                        std::span<const float> weights) const;
  // One item's score from WeightedItems(): bit-identical to Score()[j] (same
  // terms, same order), at O(|history|) instead of the dense vector's cost:
  // per history item one random load (dense) or one bitmap probe (sparse).
  // Sparse B: beyond ~50 candidates per history one Score() is cheaper
  // (keep 256, 150-item history: Score ~17 us vs 400 ScoreOne 50-130 us).
  float ScoreOne(std::span<const std::pair<ItemIndex, float>> weighted, ItemIndex j) const;
  int32_t num_items() const { return num_items_; }
  bool sparse() const { return !sparse_.offsets.empty(); }
  // Stored entries of B: num_items^2 when dense.
  int64_t num_entries() const;

  // Dense: ease.arr; sparse: ease.offsets.arr, ease.cols.arr, ease.values.arr.
  absl::StatusOr<std::vector<std::string>> Save(const std::string& dir) const;
  // Reads whichever layout `dir` holds.
  static absl::StatusOr<EaseModel> Load(const std::string& dir);

 private:
  int32_t num_items_ = 0;
  // Dense layout: num_items x num_items row-major; empty when sparse.
  std::vector<float> weights_;
  // Sparse layout: num_items rows, columns strictly ascending within a row.
  // Empty (no offsets) when dense.
  Csr<float> sparse_;
  // Sparse only, derived from the CSR at Fit/Load (not saved), for ScoreOne:
  // row i's columns as a bitmap of num_items bits (words_ 64-bit words), and
  // per word the number of the row's entries before it, so entry (i, j) is
  // found or ruled out with one load, and located with a popcount.
  std::vector<uint64_t> bits_;   // num_items x words_
  std::vector<uint16_t> ranks_;  // num_items x words_ (rows < 2^16 entries)
  int64_t words_ = 0;

  void BuildIndex();
};

}  // namespace recsys
