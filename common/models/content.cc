#include "common/models/content.h"

#include <omp.h>

#include <Eigen/Dense>
#include <Eigen/SparseCore>
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/bundle/array_file.h"
#include "common/log.h"
#include "common/status.h"

namespace recsys {
namespace {

constexpr char kVocabFile[] = "content_vocab.arr";
constexpr char kIdfFile[] = "content_idf.arr";
constexpr char kProjectionFile[] = "content_projection.arr";
constexpr char kItemsFile[] = "content_items.arr";
constexpr char kCategoryPrefix[] = "cat:";

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

bool IsWordByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

bool IsSpaceByte(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// "Science Fiction" -> "science_fiction": one whitespace-free token body.
std::string CategoryTokenBody(absl::string_view category) {
  std::string out;
  bool pending_space = false;
  for (char c : category) {
    if (IsSpaceByte(static_cast<unsigned char>(c))) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back('_');
    pending_space = false;
    out.push_back(LowerAscii(c));
  }
  return out;
}

using TermIndex = absl::flat_hash_map<std::string, int32_t>;

// Sparse TF-IDF row: (term, weight), sorted by term, L2-normalised.
using SparseRow = std::vector<std::pair<int32_t, float>>;

// TF = 1 + log(count), times IDF; unknown tokens are ignored. The one function
// that turns tokens into a row, for catalogue items and new text alike.
SparseRow TfIdfRow(const std::vector<std::string>& tokens, const TermIndex& term_index,
                   const std::vector<float>& idf) {
  std::vector<int32_t> ids;
  ids.reserve(tokens.size());
  for (const std::string& t : tokens) {
    auto it = term_index.find(t);
    if (it != term_index.end()) ids.push_back(it->second);
  }
  std::sort(ids.begin(), ids.end());
  SparseRow row;
  double norm2 = 0;
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    while (j < ids.size() && ids[j] == ids[i]) ++j;
    const double w = (1.0 + std::log(static_cast<double>(j - i))) * idf[ids[i]];
    row.emplace_back(ids[i], static_cast<float>(w));
    norm2 += w * w;
    i = j;
  }
  if (norm2 > 0) {
    const double inv = 1.0 / std::sqrt(norm2);
    for (auto& [t, w] : row) w = static_cast<float>(w * inv);
  }
  return row;
}

// out[0..dim) = normalise(row * V); all zeros if the product is zero.
void ProjectRow(const SparseRow& row, const std::vector<float>& projection, int dim, float* out) {
  std::vector<double> acc(dim, 0.0);
  for (const auto& [t, w] : row) {
    const float* v = projection.data() + int64_t{t} * dim;
    for (int j = 0; j < dim; ++j) acc[j] += double{w} * v[j];
  }
  double norm2 = 0;
  for (double a : acc) norm2 += a * a;
  const double inv = norm2 > 0 ? 1.0 / std::sqrt(norm2) : 0.0;
  for (int j = 0; j < dim; ++j) out[j] = static_cast<float>(acc[j] * inv);
}

// Orthonormal basis of the column space of `y` (rows >= cols), by Householder QR.
Eigen::MatrixXd Orthonormalize(const Eigen::MatrixXd& y) {
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(y);
  return qr.householderQ() * Eigen::MatrixXd::Identity(y.rows(), y.cols());
}

// Top right singular vectors of `a` (rows x cols), as a cols x k matrix with
// k <= target (fewer when the numerical rank is lower). Randomized range finder
// with power iterations (Halko, Martinsson, Tropp 2011, Alg. 4.4 + 5.1); the
// small factor's SVD comes from the l x l eigenproblem of B B^T.
Eigen::MatrixXd RandomizedRightSingularVectors(
    const Eigen::SparseMatrix<double, Eigen::RowMajor>& a, int target, int power_iterations,
    uint64_t seed) {
  ScopedSingleOmpThread single_thread;
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

std::vector<std::string> TokenizeText(absl::string_view text) {
  std::vector<std::string> tokens;
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    if (!IsWordByte(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    size_t j = i;
    std::string token;
    while (j < n && IsWordByte(static_cast<unsigned char>(text[j])))
      token.push_back(LowerAscii(text[j++]));
    // "cat:<body>" (body = the following non-space bytes) is one category token.
    if (token == "cat" && j + 1 < n && text[j] == ':' &&
        !IsSpaceByte(static_cast<unsigned char>(text[j + 1]))) {
      token.push_back(':');
      ++j;
      while (j < n && !IsSpaceByte(static_cast<unsigned char>(text[j])))
        token.push_back(LowerAscii(text[j++]));
    }
    tokens.push_back(std::move(token));
    i = j;
  }
  return tokens;
}

std::string ItemDocument(const ItemInfo& info) {
  std::string doc = info.title;
  doc.push_back('\n');
  doc.append(absl::StrJoin(info.categories, " "));
  doc.push_back('\n');
  for (const std::string& c : info.categories) {
    const std::string body = CategoryTokenBody(c);
    if (body.empty()) continue;
    absl::StrAppend(&doc, kCategoryPrefix, body, " ");
  }
  doc.push_back('\n');
  doc.append(info.text);
  return doc;
}

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
  model.projection_.resize(static_cast<size_t>(vocab) * model.dim_);
  for (int32_t t = 0; t < vocab; ++t) {
    for (int j = 0; j < model.dim_; ++j)
      model.projection_[int64_t{t} * model.dim_ + j] = static_cast<float>(v(t, j));
  }
  // Same path as EmbedText (TfIdfRow + ProjectRow on the float projection), so
  // an item's document embeds exactly like the item.
  model.item_embeddings_.assign(static_cast<size_t>(num_items) * model.dim_, 0.0f);
  for (int32_t i = 0; i < num_items; ++i) {
    ProjectRow(rows[i], model.projection_, model.dim_,
               model.item_embeddings_.data() + int64_t{i} * model.dim_);
  }
  LOG(INFO) << "content model: " << num_items << " items (" << nonzero_rows << " with terms), "
            << vocab << " terms, dim " << model.dim_ << " (asked " << params.dim << "), fit in "
            << absl::ToDoubleMilliseconds(absl::Now() - start) << " ms";
  return model;
}

std::vector<float> ContentModel::EmbedText(absl::string_view text) const {
  std::vector<float> out(dim_, 0.0f);
  if (dim_ == 0) return out;
  ProjectRow(TfIdfRow(TokenizeText(text), term_index_, idf_), projection_, dim_, out.data());
  return out;
}

absl::StatusOr<std::vector<std::string>> ContentModel::Save(const std::string& dir) const {
  if (dim_ == 0) return absl::FailedPreconditionError("content: saving an empty model");
  const uint64_t vocab = vocabulary_.size();
  RETURN_IF_ERROR(WriteStringArray(absl::StrCat(dir, "/", kVocabFile), vocabulary_));
  RETURN_IF_ERROR(WriteFloatArray(absl::StrCat(dir, "/", kIdfFile), {vocab}, idf_.data()));
  RETURN_IF_ERROR(WriteFloatArray(absl::StrCat(dir, "/", kProjectionFile),
                                  {vocab, static_cast<uint64_t>(dim_)}, projection_.data()));
  RETURN_IF_ERROR(WriteFloatArray(absl::StrCat(dir, "/", kItemsFile),
                                  {static_cast<uint64_t>(num_items_), static_cast<uint64_t>(dim_)},
                                  item_embeddings_.data()));
  return std::vector<std::string>{kVocabFile, kIdfFile, kProjectionFile, kItemsFile};
}

absl::StatusOr<ContentModel> ContentModel::Load(const std::string& dir) {
  const std::string vocab_path = absl::StrCat(dir, "/", kVocabFile);
  const std::string idf_path = absl::StrCat(dir, "/", kIdfFile);
  const std::string projection_path = absl::StrCat(dir, "/", kProjectionFile);
  const std::string items_path = absl::StrCat(dir, "/", kItemsFile);
  ContentModel model;
  ASSIGN_OR_RETURN(model.vocabulary_, ReadStringArray(vocab_path));
  ASSIGN_OR_RETURN(Array<float> idf, ReadFloatArray(idf_path));
  ASSIGN_OR_RETURN(Array<float> projection, ReadFloatArray(projection_path));
  ASSIGN_OR_RETURN(Array<float> items, ReadFloatArray(items_path));

  const uint64_t vocab = model.vocabulary_.size();
  if (vocab == 0) return absl::DataLossError(absl::StrCat(vocab_path, ": empty vocabulary"));
  if (vocab > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
    return absl::DataLossError(absl::StrCat(vocab_path, ": vocabulary too large"));
  }
  auto shape = [](const std::vector<uint64_t>& dims) {
    return absl::StrCat("[", absl::StrJoin(dims, ", "), "]");
  };
  if (idf.dims != std::vector<uint64_t>{vocab}) {
    return absl::DataLossError(absl::StrCat(idf_path, ": shape ", shape(idf.dims), ", expected [",
                                            vocab, "] (the size of ", vocab_path, ")"));
  }
  if (projection.dims.size() != 2 || projection.dims[0] != vocab || projection.dims[1] == 0 ||
      projection.dims[1] > 65536) {
    return absl::DataLossError(absl::StrCat(projection_path, ": shape ", shape(projection.dims),
                                            ", expected [", vocab,
                                            ", dim] with 1 <= dim <= 65536"));
  }
  const uint64_t dim = projection.dims[1];
  if (items.dims.size() != 2 || items.dims[1] != dim ||
      items.dims[0] > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
    return absl::DataLossError(absl::StrCat(items_path, ": shape ", shape(items.dims),
                                            ", expected [num_items, ", dim, "] (dim from ",
                                            projection_path, ")"));
  }
  model.term_index_.reserve(vocab);
  for (uint64_t t = 0; t < vocab; ++t) {
    if (!model.term_index_.emplace(model.vocabulary_[t], static_cast<int32_t>(t)).second) {
      return absl::DataLossError(
          absl::StrCat(vocab_path, ": duplicate term '", model.vocabulary_[t], "'"));
    }
  }
  model.dim_ = static_cast<int>(dim);
  model.num_items_ = static_cast<int32_t>(items.dims[0]);
  model.idf_ = std::move(idf.values);
  model.projection_ = std::move(projection.values);
  model.item_embeddings_ = std::move(items.values);
  return model;
}

}  // namespace recsys
