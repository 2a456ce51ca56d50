// ContentModel::Fit: TF-IDF over the catalogue and a randomized truncated SVD
// (the fitting half; tokenizer, embedding, Save and Load are in content.cc).
#include <omp.h>

#include <Eigen/Dense>
#include <Eigen/SparseCore>
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "common/vlog.h"
#include "common/models/content.h"
#include "common/models/content_tfidf.h"

namespace recsys {
namespace {

using content_internal::ProjectRow;
using content_internal::SparseRow;
using content_internal::TfIdfRow;

// Extra random directions beyond `dim` in the randomized SVD sketch (Halko et
// al. recommend 5-10; a little more is cheap here and sharpens the tail).
constexpr int kOversample = 16;
// Singular values below this fraction of the largest count as zero (rank cut).
constexpr double kRelativeRankTolerance = 1e-6;

// Limits OpenMP (and so Eigen's parallel products) to one thread on the
// calling thread for its lifetime; the OpenMP ICV is per thread, so other
// threads are unaffected. The products here are tall and skinny: on 2 cores
// two threads were slower (0.6 s vs 0.4 s on MovieLens), and under load from
// other processes OpenMP's spinning made the fit ~10x slower (5 s).
class ScopedSingleOmpThread {
 public:
  ScopedSingleOmpThread() : saved_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~ScopedSingleOmpThread() { omp_set_num_threads(saved_); }
  ScopedSingleOmpThread(const ScopedSingleOmpThread&) = delete;
  ScopedSingleOmpThread& operator=(const ScopedSingleOmpThread&) = delete;

 private:
  int saved_;
};

// Tall matrices (catalogues of at least this many items) are orthonormalised
// by Cholesky QR and may use every OpenMP thread; smaller ones keep the
// Householder QR on one thread (bit-stable results for the bundled data).
constexpr int64_t kLargeRows = 50000;

// Orthonormal basis of the column space of `y` (rows >= cols), by Householder QR.
Eigen::MatrixXd HouseholderOrthonormalize(const Eigen::MatrixXd& y) {
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(y);
  return qr.householderQ() * Eigen::MatrixXd::Identity(y.rows(), y.cols());
}

// The same basis by CholeskyQR2 (Yamamoto et al. 2015): Q = Y R^-1 with
// R^T R = Y^T Y, done twice for orthogonality to working precision. Costs
// ~4 rows cols^2 flops in matrix products (blocked, threaded) instead of
// Householder's unblocked sweeps: on 10^6 x 112 it is ~10x faster. Falls back
// to Householder when Y^T Y is not numerically positive definite (Y nearly
// rank-deficient).
Eigen::MatrixXd Orthonormalize(const Eigen::MatrixXd& y) {
  if (y.rows() < kLargeRows) return HouseholderOrthonormalize(y);
  Eigen::MatrixXd q = y;
  for (int pass = 0; pass < 2; ++pass) {
    Eigen::MatrixXd gram = Eigen::MatrixXd::Zero(q.cols(), q.cols());
    gram.selfadjointView<Eigen::Lower>().rankUpdate(q.transpose());
    Eigen::LLT<Eigen::MatrixXd> llt(gram);
    if (llt.info() != Eigen::Success) return HouseholderOrthonormalize(y);
    const Eigen::MatrixXd r = llt.matrixU();
    const double dmin = r.diagonal().cwiseAbs().minCoeff();
    const double dmax = r.diagonal().cwiseAbs().maxCoeff();
    if (!(dmin > 1e-7 * dmax)) return HouseholderOrthonormalize(y);
    // Q = Q R^-1, as the solve X R = Q.
    r.triangularView<Eigen::Upper>().solveInPlace<Eigen::OnTheRight>(q);
  }
  return q;
}

// Top right singular vectors of `a` (rows x cols), as a cols x k matrix with
// k <= target (fewer when the numerical rank is lower). Randomized range finder
// with power iterations (Halko, Martinsson, Tropp 2011, Alg. 4.4 + 5.1); the
// small factor's SVD comes from the l x l eigenproblem of B B^T.
Eigen::MatrixXd RandomizedRightSingularVectors(
    const Eigen::SparseMatrix<double, Eigen::RowMajor>& a, int target, int power_iterations,
    uint64_t seed) {
  std::optional<ScopedSingleOmpThread> single_thread;
  if (a.rows() < kLargeRows) single_thread.emplace();
  const int64_t rows = a.rows();
  const int64_t cols = a.cols();
  const int l = static_cast<int>(std::min<int64_t>({int64_t{target} + kOversample, rows, cols}));
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> gauss(0.0, 1.0);
  Eigen::MatrixXd omega(cols, l);
  // Filled in a fixed order so the sketch depends only on the seed.
  for (int64_t i = 0; i < cols; ++i) {
    for (int j = 0; j < l; ++j) omega(i, j) = gauss(rng);
  }
  Eigen::MatrixXd q = Orthonormalize(a * omega);
  for (int it = 0; it < power_iterations; ++it) {
    const Eigen::MatrixXd z = Orthonormalize(a.transpose() * q);
    q = Orthonormalize(a * z);
  }
  const Eigen::MatrixXd bt = a.transpose() * q;      // cols x l == B^T
  const Eigen::MatrixXd gram = bt.transpose() * bt;  // l x l == B B^T
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(gram);
  const Eigen::VectorXd& lambda = eig.eigenvalues();  // ascending
  const double top = std::sqrt(std::max(0.0, lambda(l - 1)));
  int k = 0;
  while (k < target && k < l) {
    const double s = std::sqrt(std::max(0.0, lambda(l - 1 - k)));
    if (!(s > kRelativeRankTolerance * top) || top == 0) break;
    ++k;
  }
  Eigen::MatrixXd v(cols, k);
  for (int c = 0; c < k; ++c) {
    const double s = std::sqrt(lambda(l - 1 - c));
    v.col(c) = bt * eig.eigenvectors().col(l - 1 - c) / s;
    // Sign convention: the largest-magnitude entry is positive, so the result
    // does not depend on the eigensolver's arbitrary sign.
    Eigen::Index arg = 0;
    v.col(c).cwiseAbs().maxCoeff(&arg);
    if (v(arg, c) < 0) v.col(c) = -v.col(c);
  }
  return v;
}

}  // namespace

absl::StatusOr<ContentModel> ContentModel::Fit(const std::vector<ItemInfo>& items,
                                               const ContentParams& params) {
  const absl::Time start = absl::Now();
  if (params.dim < 1)
    return absl::InvalidArgumentError(absl::StrCat("content: dim ", params.dim, " < 1"));
  if (params.min_df < 1) {
    return absl::InvalidArgumentError(absl::StrCat("content: min_df ", params.min_df, " < 1"));
  }
  if (!(params.max_df_ratio > 0 && params.max_df_ratio <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("content: max_df_ratio ", params.max_df_ratio, " not in (0, 1]"));
  }
  if (params.power_iterations < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("content: power_iterations ", params.power_iterations, " < 0"));
  }
  if (items.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return absl::InvalidArgumentError("content: too many items");
  }
  const int32_t num_items = static_cast<int32_t>(items.size());

  // Tokens per item (empty for items without metadata) and document frequencies.
  std::vector<std::vector<std::string>> tokens(num_items);
  absl::flat_hash_map<std::string, int32_t> df;
  int64_t num_docs = 0;
  for (int32_t i = 0; i < num_items; ++i) {
    if (!items[i].has_metadata) continue;
    ++num_docs;
    tokens[i] = TokenizeText(ItemDocument(items[i]));
    std::vector<std::string> unique = tokens[i];
    std::sort(unique.begin(), unique.end());
    unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
    for (std::string& t : unique) ++df[std::move(t)];
  }
  if (num_docs == 0) return absl::InvalidArgumentError("content: no item has metadata");

  ContentModel model;
  const double max_df = params.max_df_ratio * static_cast<double>(num_docs);
  for (const auto& [term, count] : df) {
    if (count >= params.min_df && static_cast<double>(count) <= max_df)
      model.vocabulary_.push_back(term);
  }
  if (model.vocabulary_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "content: no term of ", df.size(), " occurs in at least min_df=", params.min_df,
        " and at most max_df_ratio=", params.max_df_ratio, " of ", num_docs, " items"));
  }
  std::sort(model.vocabulary_.begin(), model.vocabulary_.end());  // deterministic term ids
  const int32_t vocab = static_cast<int32_t>(model.vocabulary_.size());
  model.term_index_.reserve(vocab);
  model.idf_.resize(vocab);
  for (int32_t t = 0; t < vocab; ++t) {
    model.term_index_.emplace(model.vocabulary_[t], t);
    model.idf_[t] = static_cast<float>(
        std::log(static_cast<double>(num_docs) / df.at(model.vocabulary_[t])) + 1.0);
  }

  // Item x term TF-IDF matrix (rows L2-normalised; zero rows allowed).
  std::vector<SparseRow> rows(num_items);
  std::vector<Eigen::Triplet<float>> triplets;
  int64_t nonzero_rows = 0;
  for (int32_t i = 0; i < num_items; ++i) {
    rows[i] = TfIdfRow(tokens[i], model.term_index_, model.idf_);
    if (!rows[i].empty()) ++nonzero_rows;
    for (const auto& [t, w] : rows[i]) triplets.emplace_back(i, t, w);
  }
  tokens.clear();
  if (nonzero_rows == 0)
    return absl::InvalidArgumentError("content: no item has a vocabulary term");
  Eigen::SparseMatrix<float, Eigen::RowMajor> tfidf(num_items, vocab);
  tfidf.setFromTriplets(triplets.begin(), triplets.end());
  triplets.clear();

  const int target =
      static_cast<int>(std::min<int64_t>({int64_t{params.dim}, vocab, nonzero_rows}));
  const Eigen::SparseMatrix<double, Eigen::RowMajor> a = tfidf.cast<double>();
  const Eigen::MatrixXd v =
      RandomizedRightSingularVectors(a, target, params.power_iterations, params.seed);
  if (v.cols() == 0) return absl::InvalidArgumentError("content: TF-IDF matrix has rank 0");
  model.dim_ = static_cast<int>(v.cols());
  model.num_items_ = num_items;
  std::vector<float> projection(static_cast<size_t>(vocab) * model.dim_);
  for (int32_t t = 0; t < vocab; ++t) {
    for (int j = 0; j < model.dim_; ++j)
      projection[int64_t{t} * model.dim_ + j] = static_cast<float>(v(t, j));
  }
  // Same path as EmbedText (TfIdfRow + ProjectRow on the float projection), so
  // an item's document embeds exactly like the item.
  std::vector<float> embeddings(static_cast<size_t>(num_items) * model.dim_, 0.0f);
  for (int32_t i = 0; i < num_items; ++i) {
    ProjectRow(rows[i], projection, model.dim_, embeddings.data() + int64_t{i} * model.dim_);
  }
  model.projection_ = std::move(projection);
  model.item_embeddings_ = std::move(embeddings);
  VLOG(1) << "content model: " << num_items << " items (" << nonzero_rows << " with terms), "
          << vocab << " terms, dim " << model.dim_ << " (asked " << params.dim << "), fit in "
          << absl::ToDoubleMilliseconds(absl::Now() - start) << " ms";
  return model;
}

}  // namespace recsys
