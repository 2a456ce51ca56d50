// Content model: item text -> TF-IDF -> dense LSA embedding (truncated SVD).
//
// Item text = title + categories + free text (tags, abstract). Tokens are
// lower-cased alphanumeric runs (UTF-8 bytes >= 0x80 count as letters), plus one
// "cat:<category>" token per category. TF = 1 + log(count), IDF = log(N / df) + 1
// (smooth), rows L2-normalised. The projection V (vocab x dim) comes from a
// randomized truncated SVD of the item x term matrix (Halko et al., fixed seed):
// an item or any new text embeds as normalise(tfidf(text) * V), so search
// queries and new items land in the same space as the catalogue.
// Fit lives in content_fit.cc (the fitting library: TF-IDF statistics, QR and
// eigensolver); tokenizer, embedding, Save and Load in content.cc (serving).
// Immutable after Fit/Load; const methods are safe to call concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/bundle/array_store.h"
#include "common/data/dataset.h"

namespace recsys {

class BundleFiles;  // common/bundle/bundle_files.h

struct ContentParams {
  int dim = 96;             // embedding dimension (clamped to the data's rank)
  int min_df = 2;           // drop terms in fewer items than this
  double max_df_ratio = 0.5;  // drop terms in more than this fraction of items
  int power_iterations = 4;   // randomized SVD power iterations
  uint64_t seed = 42;
};

// Lower-cased tokens of `text` (the content model's tokenizer).
std::vector<std::string> TokenizeText(absl::string_view text);

// The text the content model embeds for an item.
std::string ItemDocument(const ItemInfo& info);

class ContentModel {
 public:
  ContentModel() = default;
  static absl::StatusOr<ContentModel> Fit(const std::vector<ItemInfo>& items,
                                          const ContentParams& params);

  // L2-normalised embedding of arbitrary text (size dim()); all zeros when no
  // token is in the vocabulary.
  std::vector<float> EmbedText(absl::string_view text) const;

  // num_items x dim, row-major, rows L2-normalised (zero for items with no
  // known token). Owned after Fit, a view of the mapped file after Load.
  const ArrayStore<float>& item_embeddings() const { return item_embeddings_; }
  const float* item_embedding(ItemIndex i) const { return item_embeddings_.data() + int64_t{i} * dim_; }
  int dim() const { return dim_; }
  int32_t num_items() const { return num_items_; }
  int32_t vocabulary_size() const { return static_cast<int32_t>(vocabulary_.size()); }

  // Files content_vocab.arr, content_idf.arr, content_projection.arr,
  // content_items.arr in `dir`; returns the written file names (relative).
  absl::StatusOr<std::vector<std::string>> Save(const std::string& dir) const;
  // Load maps the projection and the item embeddings (views that keep their
  // files mapped; mapping.h); the vocabulary and IDF are copied into the heap.
  static absl::StatusOr<ContentModel> Load(const std::string& dir);
  static absl::StatusOr<ContentModel> Load(BundleFiles& files);
  // The item embeddings alone (a view of content_items.arr), for readers that
  // only compare catalogue items (the gateway's list diversity): no
  // vocabulary or projection, so EmbedText gives zeros.
  static absl::StatusOr<ContentModel> LoadItemEmbeddings(BundleFiles& files);

 private:
  int dim_ = 0;
  int32_t num_items_ = 0;
  std::vector<std::string> vocabulary_;
  absl::flat_hash_map<std::string, int32_t> term_index_;
  std::vector<float> idf_;         // per term
  ArrayStore<float> projection_;  // vocab x dim, row-major
  ArrayStore<float> item_embeddings_;
};

}  // namespace recsys
