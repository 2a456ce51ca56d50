// EaseModel scoring, Save and Load (the serving half; Fit is in ease_fit.cc).
#include <algorithm>
#include <bit>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/bundle/array_file.h"
#include "common/models/ease.h"
#include "common/status.h"

namespace recsys {
namespace {

// The files of a model saved with `prefix` ("ease": ease.arr, ease.offsets.arr, ...).
std::string DenseFile(absl::string_view prefix) { return absl::StrCat(prefix, ".arr"); }
std::string ItemsFile(absl::string_view prefix) { return absl::StrCat(prefix, ".items.arr"); }
std::string OffsetsFile(absl::string_view prefix) { return absl::StrCat(prefix, ".offsets.arr"); }
// The sparse layout's CSR arrays.
CsrFiles SparseFiles(absl::string_view prefix) {
  return {OffsetsFile(prefix), absl::StrCat(prefix, ".cols.arr"),
          absl::StrCat(prefix, ".values.arr")};
}

}  // namespace

void EaseModel::SetItems(std::vector<ItemIndex> items) {
  items_ = std::move(items);
  position_.assign(items_.empty() ? 0 : static_cast<size_t>(items_.back()) + 1, -1);
  for (size_t l = 0; l < items_.size(); ++l) position_[items_[l]] = static_cast<int32_t>(l);
}

void EaseModel::BuildIndex() {
  words_ = (int64_t{num_items_} + 63) / 64;
  bits_.assign(static_cast<size_t>(num_items_ * words_), 0);
  ranks_.assign(bits_.size(), 0);
  for (int32_t i = 0; i < num_items_; ++i) {
    uint64_t* bits = bits_.data() + int64_t{i} * words_;
    uint16_t* ranks = ranks_.data() + int64_t{i} * words_;
    for (int32_t j : sparse_.row_ids(i)) bits[j >> 6] |= uint64_t{1} << (j & 63);
    int rank = 0;
    for (int64_t w = 0; w < words_; ++w) {
      ranks[w] = static_cast<uint16_t>(rank);
      rank += std::popcount(bits[w]);
    }
  }
}

int64_t EaseModel::num_entries() const {
  return sparse() ? sparse_.nnz() : int64_t{num_items_} * num_items_;
}

void EaseModel::Score(std::span<const ItemIndex> history, std::vector<float>* scores) const {
  const std::vector<float> ones(history.size(), 1.0f);
  Score(history, ones, scores);
}

void EaseModel::Score(std::span<const ItemIndex> history, std::span<const float> weights,
                      std::vector<float>* scores) const {
  const int64_t n = num_items_;
  scores->assign(static_cast<size_t>(n), 0.0f);
  const std::vector<std::pair<ItemIndex, float>> items = WeightedItems(history, weights);
  float* out = scores->data();
  for (const auto& [i, w] : items) {
    if (w == 0.0f) continue;
    if (sparse()) {
      const int64_t end = sparse_.offsets[i + 1];
      for (int64_t k = sparse_.offsets[i]; k < end; ++k) {
        out[sparse_.ids[k]] += w * sparse_.values[k];
      }
    } else {
      const float* row = weights_.data() + int64_t{i} * n;
      for (int64_t j = 0; j < n; ++j) out[j] += w * row[j];
    }
  }
}

float EaseModel::ScoreOne(std::span<const std::pair<ItemIndex, float>> weighted,
                          ItemIndex global) const {
  const int32_t j = Position(global);
  if (j < 0) return 0.0f;
  // The same terms in the same order as Score(), so the float sum is the same.
  float score = 0.0f;
  if (sparse()) {
    const int64_t word = j >> 6;
    const uint64_t bit = uint64_t{1} << (j & 63);
    for (const auto& [i, w] : weighted) {
      const int64_t at = int64_t{i} * words_ + word;
      const uint64_t bits = bits_[at];
      if (w == 0.0f || (bits & bit) == 0) continue;
      const int64_t k = sparse_.offsets[i] + ranks_[at] + std::popcount(bits & (bit - 1));
      score += w * sparse_.values[k];
    }
    return score;
  }
  for (const auto& [i, w] : weighted) {
    if (w == 0.0f) continue;
    score += w * weights_[int64_t{i} * num_items_ + j];
  }
  return score;
}

std::vector<std::pair<ItemIndex, float>> EaseModel::WeightedItems(
    std::span<const ItemIndex> history, std::span<const float> weights) const {
  // Distinct known items with the largest weight among their occurrences.
  std::vector<std::pair<ItemIndex, float>> items;
  items.reserve(history.size());
  for (size_t k = 0; k < history.size(); ++k) {
    const int32_t i = Position(history[k]);
    if (i >= 0) items.emplace_back(i, k < weights.size() ? weights[k] : 1.0f);
  }
  std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) {
    return a.first < b.first || (a.first == b.first && a.second > b.second);
  });
  items.erase(std::unique(items.begin(), items.end(),
                          [](const auto& a, const auto& b) { return a.first == b.first; }),
              items.end());
  return items;
}

absl::StatusOr<std::vector<std::string>> EaseModel::Save(const std::string& dir,
                                                         absl::string_view prefix) const {
  std::vector<std::string> files;
  if (subset()) {
    RETURN_IF_ERROR(WriteInt32Array(absl::StrCat(dir, "/", ItemsFile(prefix)),
                                    {static_cast<uint64_t>(items_.size())}, items_.data()));
    files.push_back(ItemsFile(prefix));
  }
  if (sparse()) {
    ASSIGN_OR_RETURN(std::vector<std::string> csr, sparse_.Save(dir, SparseFiles(prefix)));
    files.insert(files.end(), csr.begin(), csr.end());
    return files;
  }
  const uint64_t n = static_cast<uint64_t>(num_items_);
  RETURN_IF_ERROR(
      WriteFloatArray(absl::StrCat(dir, "/", DenseFile(prefix)), {n, n}, weights_.data()));
  files.push_back(DenseFile(prefix));
  return files;
}

absl::StatusOr<EaseModel> EaseModel::Load(const std::string& dir, absl::string_view prefix) {
  ASSIGN_OR_RETURN(EaseModel model, LoadWeights(dir, prefix));
  std::error_code ec;
  const std::string items_path = absl::StrCat(dir, "/", ItemsFile(prefix));
  if (std::filesystem::exists(items_path, ec)) {
    ASSIGN_OR_RETURN(Array<int32_t> items, ReadInt32Array(items_path));
    if (items.dims.size() != 1 || items.values.size() != static_cast<size_t>(model.num_items_)) {
      return absl::DataLossError(absl::StrCat(items_path, ": expected ", model.num_items_,
                                              " item indices (one per EASE row)"));
    }
    for (size_t l = 0; l < items.values.size(); ++l) {
      if (items.values[l] < 0 || (l > 0 && items.values[l] <= items.values[l - 1])) {
        return absl::DataLossError(
            absl::StrCat(items_path, ": item indices must be >= 0 and strictly ascending"));
      }
    }
    model.SetItems(std::move(items.values));
  }
  return model;
}

absl::StatusOr<EaseModel> EaseModel::LoadWeights(const std::string& dir,
                                                 absl::string_view prefix) {
  std::error_code ec;
  if (std::filesystem::exists(absl::StrCat(dir, "/", OffsetsFile(prefix)), ec)) {
    CsrShape shape;  // square, num_items from the offsets
    shape.max_rows = kMaxItems;
    shape.sorted_rows = true;
    EaseModel model;
    ASSIGN_OR_RETURN(model.sparse_, Csr<float>::Load(dir, SparseFiles(prefix), shape));
    model.num_items_ = model.sparse_.rows();
    model.BuildIndex();
    return model;
  }
  const std::string path = absl::StrCat(dir, "/", DenseFile(prefix));
  ASSIGN_OR_RETURN(Array<float> b, ReadFloatArray(path));
  if (b.dims.size() != 2 || b.dims[0] != b.dims[1]) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected a square 2-d float array"));
  }
  if (b.dims[0] > static_cast<uint64_t>(kMaxItems)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", b.dims[0], " items exceed the limit of ", kMaxItems));
  }
  EaseModel model;
  model.num_items_ = static_cast<int32_t>(b.dims[0]);
  model.weights_ = std::move(b.values);
  return model;
}

}  // namespace recsys
