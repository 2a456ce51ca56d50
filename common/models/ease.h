// The EASE item-item model. Fit lives in ease_fit.cc (the fitting library,
// which links LAPACK); scoring, Save and Load in ease.cc (serving).
// Immutable after Fit/Load; const methods are safe to call concurrently.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/data/dataset.h"
#include "common/models/csr.h"

namespace recsys {

// EASE (Steck 2019): closed-form item-item regression B = I - P diagM(1/diag P),
// P = (XtX + lambda I)^-1 over binary X. Fitting needs num_items^2 floats (only
// for catalogues up to a size flag). B is kept either dense, or pruned to the
// `keep` largest-|value| entries of each row and stored sparse (CSR), which
// makes Score O(keep) per history item. Memory: num_items * keep * 8 bytes of
// CSR (also the size on disk) plus num_items^2 * 10 / 64 bytes of ScoreOne
// index, instead of num_items^2 * 4 bytes dense.
//
// Large catalogues: Fit with `max_items` keeps the model to the most popular
// `max_items` items (its "items"); the rest of the catalogue neither votes
// nor is scored. Histories and candidates are always catalogue indices; dense
// score vectors are over the model's items (position l is item global_item(l);
// the positions keep catalogue order, so ties break the same way).
class EaseModel {
 public:
  // 30000^2 floats = 3.6 GB: beyond that EASE is the wrong model.
  static constexpr int32_t kMaxItems = 30000;

  EaseModel() = default;
  // keep = 0: dense B. keep > 0: each row keeps its `keep` largest-|value|
  // non-zero entries (ties: lower column), the rest are dropped to zero.
  // max_items > 0: fit on the `max_items` items with the most events in
  // `events` (ties: lower index) when the catalogue is larger.
  static absl::StatusOr<EaseModel> Fit(std::span<const Interaction> events, int32_t num_users,
                                       int32_t num_items, double lambda, int keep = 0,
                                       int32_t max_items = 0);
  // scores[l] = sum over the distinct history items i of B[i][item l] (size
  // num_items()); X is binary, so a repeated item counts once; items outside
  // the model ignored.
  void Score(std::span<const ItemIndex> history, std::vector<float>* scores) const;
  // Weighted form: scores[j] = sum over distinct history items i of
  // max(weight of i's occurrences) * B[i][j]. Each scores[j] is the float sum,
  // in ascending i, of weight_i * B[i][j] over the items with a non-zero
  // weight and (sparse) a stored entry (i, j).
  void Score(std::span<const ItemIndex> history, std::span<const float> weights,
             std::vector<float>* scores) const;
  // The distinct known history items with their weights, in the order Score
  // sums them (ascending item index), as the model's positions.
  std::vector<std::pair<ItemIndex, float>> WeightedItems(std::span<const ItemIndex> history,
                                                        std::span<const float> weights) const;
  // One item's score from WeightedItems(): bit-identical to Score()[j] (same
  // terms, same order), at O(|history|) instead of the dense vector's cost:
  // per history item one random load (dense) or one bitmap probe (sparse).
  // Sparse B: beyond ~50 candidates per history one Score() is cheaper
  // (keep 256, 150-item history: Score ~17 us vs 400 ScoreOne 50-130 us).
  float ScoreOne(std::span<const std::pair<ItemIndex, float>> weighted, ItemIndex j) const;
  // Catalogue item j's entry of a Score() vector (0 outside the model).
  float ScoreAt(std::span<const float> scores, ItemIndex j) const {
    const int32_t l = Position(j);
    return l < 0 ? 0.0f : scores[l];
  }
  // Items the model covers (dense score vectors have this size).
  int32_t num_items() const { return num_items_; }
  // True when the model covers only the most popular part of the catalogue.
  bool subset() const { return !items_.empty(); }
  ItemIndex global_item(int32_t position) const {
    return items_.empty() ? position : items_[position];
  }
  // Position of catalogue item j in the model, -1 when outside it.
  int32_t Position(ItemIndex j) const {
    if (items_.empty()) return j >= 0 && j < num_items_ ? j : -1;
    return j >= 0 && j < static_cast<ItemIndex>(position_.size()) ? position_[j] : -1;
  }
  // True when the model can serve a catalogue of `catalogue_items` items.
  bool FitsCatalogue(int32_t catalogue_items) const {
    return items_.empty() ? num_items_ == catalogue_items
                          : static_cast<int32_t>(position_.size()) <= catalogue_items;
  }
  bool sparse() const { return !sparse_.offsets.empty(); }
  // Stored entries of B: num_items^2 when dense.
  int64_t num_entries() const;

  // Dense: <prefix>.arr; sparse: <prefix>.offsets.arr, <prefix>.cols.arr,
  // <prefix>.values.arr; a subset model adds <prefix>.items.arr (its catalogue
  // indices, ascending). Other item-item models stored the same way (SLIST)
  // use their own prefix.
  absl::StatusOr<std::vector<std::string>> Save(const std::string& dir,
                                                absl::string_view prefix = "ease") const;
  // Reads whichever layout `dir` holds under `prefix`.
  static absl::StatusOr<EaseModel> Load(const std::string& dir, absl::string_view prefix = "ease");

  // The fitting library's building blocks, shared with other item-item models
  // (ease_fit.cc):
  // The items a model of at most `max_items` covers: empty (the whole
  // catalogue) when max_items <= 0 or the catalogue is not larger, else the
  // `max_items` items with the most events (ties: lower index), ascending.
  static std::vector<ItemIndex> ChooseItems(std::span<const Interaction> events,
                                            int32_t num_items, int32_t max_items);
  // A model over `items` (empty: the whole catalogue of n items) from its dense
  // n x n row-major weights `b` (consumed), pruned to `keep` entries per row
  // when keep > 0 (see Fit).
  static EaseModel FromDense(std::vector<float> b, int32_t n, std::vector<ItemIndex> items,
                             int keep);

 private:
  int32_t num_items_ = 0;
  // Subset models only: position -> catalogue index (ascending) and catalogue
  // index -> position or -1 (size: largest covered index + 1).
  std::vector<ItemIndex> items_;
  std::vector<int32_t> position_;
  void SetItems(std::vector<ItemIndex> items);
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
  static absl::StatusOr<EaseModel> LoadWeights(const std::string& dir, absl::string_view prefix);
};

}  // namespace recsys
