// Content model tokenizer, embedding, Save and Load (the serving half; Fit
// is in content_fit.cc).
#include "common/models/content.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/bundle/array_file.h"
#include "common/bundle/bundle_files.h"
#include "common/models/content_tfidf.h"
#include "common/status.h"

namespace recsys {
namespace content_internal {

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

void ProjectRow(const SparseRow& row, std::span<const float> projection, int dim, float* out) {
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

}  // namespace content_internal

namespace {

using content_internal::ProjectRow;
using content_internal::TfIdfRow;

constexpr char kVocabFile[] = "content_vocab.arr";
constexpr char kIdfFile[] = "content_idf.arr";
constexpr char kProjectionFile[] = "content_projection.arr";
constexpr char kItemsFile[] = "content_items.arr";
constexpr char kCategoryPrefix[] = "cat:";

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
  BundleFiles files(dir);
  return Load(files);
}

absl::StatusOr<ContentModel> ContentModel::Load(BundleFiles& files) {
  const std::string vocab_path = files.Path(kVocabFile);
  const std::string idf_path = files.Path(kIdfFile);
  const std::string projection_path = files.Path(kProjectionFile);
  const std::string items_path = files.Path(kItemsFile);
  ContentModel model;
  ASSIGN_OR_RETURN(model.vocabulary_, files.ReadStrings(kVocabFile));
  ASSIGN_OR_RETURN(MappedArray<float> idf, files.MapArray<float>(kIdfFile));
  ASSIGN_OR_RETURN(MappedArray<float> projection, files.MapArray<float>(kProjectionFile));
  ASSIGN_OR_RETURN(MappedArray<float> items, files.MapArray<float>(kItemsFile));

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
  model.idf_ = idf.values.ToVector();
  model.projection_ = std::move(projection.values);
  model.item_embeddings_ = std::move(items.values);
  return model;
}

absl::StatusOr<ContentModel> ContentModel::LoadItemEmbeddings(BundleFiles& files) {
  ASSIGN_OR_RETURN(MappedArray<float> items, files.MapArray<float>(kItemsFile));
  if (items.dims.size() != 2 || items.dims[1] == 0 || items.dims[1] > 65536 ||
      items.dims[0] > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
    return absl::DataLossError(absl::StrCat(files.Path(kItemsFile), ": shape [",
                                            absl::StrJoin(items.dims, ", "),
                                            "], expected [num_items, dim] with 1 <= dim <= 65536"));
  }
  ContentModel model;
  model.dim_ = static_cast<int>(items.dims[1]);
  model.num_items_ = static_cast<int32_t>(items.dims[0]);
  model.item_embeddings_ = std::move(items.values);
  return model;
}

}  // namespace recsys
