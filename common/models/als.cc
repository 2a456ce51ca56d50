// AlsModel fold-in, Save and Load (the serving half; Fit is in als_fit.cc).
#include "common/models/als.h"

#include <Eigen/Dense>
#include <algorithm>
#include <bit>
#include <cmath>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/bundle/array_file.h"
#include "common/bundle/bundle_files.h"
#include "common/models/als_gram.h"
#include "common/status.h"

namespace recsys {
namespace als_internal {

Eigen::MatrixXd Gram(const float* m, int64_t rows, int f, int threads) {
  const int64_t chunk = std::max<int64_t>(1024, (rows + 255) / 256);
  const int64_t chunks = (rows + chunk - 1) / chunk;
  std::vector<double> partial(static_cast<size_t>(chunks) * f * f, 0.0);
  ParallelRows(threads, chunks, [&](int64_t c, int) {
    double* acc = partial.data() + c * f * f;
    std::vector<double> row(f);
    const int64_t end = std::min(rows, (c + 1) * chunk);
    for (int64_t r = c * chunk; r < end; ++r) {
      for (int a = 0; a < f; ++a) row[a] = m[r * f + a];
      for (int a = 0; a < f; ++a) {
        const double ra = row[a];
        double* out = acc + a * f;
        for (int b = a; b < f; ++b) out[b] += ra * row[b];
      }
    }
  });
  Eigen::MatrixXd g = Eigen::MatrixXd::Zero(f, f);
  for (int64_t c = 0; c < chunks; ++c) {
    const double* acc = partial.data() + c * f * f;
    for (int a = 0; a < f; ++a) {
      for (int b = a; b < f; ++b) g(a, b) += acc[a * f + b];
    }
  }
  for (int a = 0; a < f; ++a) {
    for (int b = 0; b < a; ++b) g(a, b) = g(b, a);
  }
  return g;
}

std::vector<float> NormalBase(const Eigen::MatrixXd& yty, double reg) {
  const Eigen::MatrixXf base =
      (yty + reg * Eigen::MatrixXd::Identity(yty.rows(), yty.cols())).cast<float>();
  return std::vector<float>(base.data(), base.data() + base.size());
}

}  // namespace als_internal

namespace {

using als_internal::Gram;
using als_internal::kMaxFactors;
using als_internal::NormalBase;

constexpr char kItemsFile[] = "als_items.arr";
constexpr char kMetaFile[] = "als_meta.arr";
// als_meta.arr: int64 [4] = {factors, num_items, bits of alpha, bits of reg};
// alpha and reg are IEEE doubles stored bit-exactly (std::bit_cast) so a
// loaded model folds in exactly like the one that was saved.
constexpr int kMetaSize = 4;

using VecF = Eigen::VectorXf;
using MapVecF = Eigen::Map<Eigen::VectorXf>;
using ConstMapVecF = Eigen::Map<const Eigen::VectorXf>;
using RowMatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

std::string JoinPath(const std::string& dir, const char* name) {
  return absl::StrCat(dir, "/", name);
}

}  // namespace

std::vector<float> AlsModel::FoldIn(std::span<const ItemIndex> history) const {
  const std::vector<float> ones(history.size(), 1.0f);
  return FoldIn(history, ones);
}

std::vector<float> AlsModel::FoldIn(std::span<const ItemIndex> history,
                                    std::span<const float> weights) const {
  const int f = factors_;
  std::vector<float> out(f, 0.0f);
  // (item, weight) pairs of known items, grouped by item.
  std::vector<std::pair<ItemIndex, float>> items;
  items.reserve(history.size());
  for (size_t k = 0; k < history.size(); ++k) {
    const ItemIndex i = history[k];
    const float w = k < weights.size() ? weights[k] : 1.0f;
    if (i >= 0 && i < num_items_ && w > 0) items.emplace_back(i, w);
  }
  if (items.empty() || f == 0) return out;
  std::sort(items.begin(), items.end());

  // One row per distinct item: y_i in `rows`, its confidence c_i in `c`.
  RowMatF rows(static_cast<Eigen::Index>(items.size()), f);
  VecF c(static_cast<Eigen::Index>(items.size()));
  Eigen::Index n = 0;
  for (size_t k = 0; k < items.size();) {
    size_t end = k;
    double weight = 0.0;
    while (end < items.size() && items[end].first == items[k].first) weight += items[end++].second;
    rows.row(n) = ConstMapVecF(item_factor(items[k].first), f).transpose();
    c[n] = static_cast<float>(1.0 + alpha_ * weight);
    ++n;
    k = end;
  }
  const auto y = rows.topRows(n);
  const VecF b = y.transpose() * c.head(n);  // Yt C p, p = 1
  // A = YtY + reg I + sum_i (c_i - 1) y_i y_i^T = base + Mt M with the rows
  // of M = sqrt(c_i - 1) y_i: one blocked symmetric rank-n update.
  rows.topRows(n).array().colwise() *= (c.head(n).array() - 1.0f).max(0.0f).sqrt();
  Eigen::MatrixXf a = Eigen::Map<const Eigen::MatrixXf>(normal_base_.data(), f, f);
  a.selfadjointView<Eigen::Lower>().rankUpdate(rows.topRows(n).transpose());
  const Eigen::LLT<Eigen::MatrixXf, Eigen::Lower> llt(a);
  if (llt.info() == Eigen::Success) {
    MapVecF(out.data(), f) = llt.solve(b);
  } else {
    // Only when A is singular (reg = 0 with too few item factors): the
    // pivoted factorisation gives a least-squares answer instead.
    const Eigen::MatrixXd ad = a.cast<double>();
    const Eigen::VectorXd x = ad.selfadjointView<Eigen::Lower>().ldlt().solve(b.cast<double>());
    for (int j = 0; j < f; ++j) out[j] = static_cast<float>(x[j]);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> AlsModel::Save(const std::string& dir) const {
  const int64_t meta[kMetaSize] = {factors_, num_items_, std::bit_cast<int64_t>(alpha_),
                                   std::bit_cast<int64_t>(reg_)};
  RETURN_IF_ERROR(WriteFloatArray(
      JoinPath(dir, kItemsFile),
      {static_cast<uint64_t>(num_items_), static_cast<uint64_t>(factors_)}, item_factors_.data()));
  RETURN_IF_ERROR(WriteInt64Array(JoinPath(dir, kMetaFile), {kMetaSize}, meta));
  return std::vector<std::string>{kItemsFile, kMetaFile};
}

absl::StatusOr<AlsModel> AlsModel::Load(const std::string& dir) {
  BundleFiles files(dir);
  return Load(files);
}

absl::StatusOr<AlsModel> AlsModel::Load(BundleFiles& files) {
  const std::string meta_path = files.Path(kMetaFile);
  const std::string items_path = files.Path(kItemsFile);
  ASSIGN_OR_RETURN(MappedArray<int64_t> meta, files.MapArray<int64_t>(kMetaFile));
  if (meta.dims.size() != 1 || meta.dims[0] != kMetaSize) {
    return absl::InvalidArgumentError(
        absl::StrCat(meta_path, ": expected an int64 array of ", kMetaSize, " values"));
  }
  const int64_t factors = meta.values[0], num_items = meta.values[1];
  const double alpha = std::bit_cast<double>(meta.values[2]);
  const double reg = std::bit_cast<double>(meta.values[3]);
  if (factors < 1 || factors > kMaxFactors || num_items < 0 || num_items > INT32_MAX ||
      !std::isfinite(alpha) || alpha < 0 || !std::isfinite(reg) || reg < 0) {
    return absl::InvalidArgumentError(absl::StrCat(meta_path, ": bad values factors=", factors,
                                                   " num_items=", num_items, " alpha=", alpha,
                                                   " reg=", reg));
  }
  ASSIGN_OR_RETURN(MappedArray<float> items, files.MapArray<float>(kItemsFile));
  if (items.dims.size() != 2 || items.dims[0] != static_cast<uint64_t>(num_items) ||
      items.dims[1] != static_cast<uint64_t>(factors)) {
    std::string dims;
    for (uint64_t d : items.dims) absl::StrAppend(&dims, dims.empty() ? "" : " x ", d);
    return absl::InvalidArgumentError(absl::StrCat(items_path, ": shape [", dims, "] but ",
                                                   kMetaFile, " says ", num_items, " x ", factors));
  }
  AlsModel model;
  model.factors_ = static_cast<int>(factors);
  model.num_items_ = static_cast<int32_t>(num_items);
  model.alpha_ = alpha;
  model.reg_ = reg;
  model.item_factors_ = std::move(items.values);
  const Eigen::MatrixXd yty =
      Gram(model.item_factors_.data(), num_items, model.factors_,
           static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  model.normal_base_ = NormalBase(yty, reg);
  return model;
}

}  // namespace recsys
