// The model bundle: an immutable snapshot of every trained model plus the item
// catalogue, loaded whole and verified before it may serve.
//
//   auto bundle = ModelBundle::Load(dir);   // StatusOr<shared_ptr<const ModelBundle>>
//
// A request takes the current bundle once and keeps it to the end; holders
// swap the shared_ptr. All members are read-only after construction.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/bundle/array_store.h"
#include "common/bundle/catalogue_shard.h"
#include "common/bundle/category_index.h"
#include "common/data/dataset.h"
#include "common/index/index_recall.h"
#include "common/index/lexical_index.h"
#include "common/index/vector_index.h"
#include "common/models/als.h"
#include "common/models/content.h"
#include "common/models/ease.h"
#include "common/models/itemknn.h"
#include "common/models/logistic_ranker.h"
#include "common/models/markov.h"
#include "common/models/slist.h"
#include "common/models/trending.h"
#include "recsys/v1/manifest.pb.h"

namespace recsys {

// Retrieval sources; values index per-source arrays (proto Source = value + 1).
enum class SourceId : int { kContent = 0, kItemKnn, kAls, kTrending, kSequence, kEase, kSlist };
inline constexpr int kNumSources = 7;
const char* SourceName(SourceId s);  // "content", "itemknn", ...

// Serving parameters chosen by the trainer (tuned on validation).
struct ServingParams {
  double profile_half_life_s = 365.0 * 86400;  // content profile decay
  double trending_half_life_s = 7.0 * 86400;
  float sequence_blend = 0.5f;    // weight of Markov vs content similarity
  int sequence_window = 3;        // last items the sequence source looks at
  float sequence_window_decay = 0.5f;
  std::array<int, kNumSources> quotas = {100, 100, 100, 50, 100, 100, 100};
  int max_pool = 400;
  float mmr_lambda = 1.0f;        // 1 = pure model order
  // Recency weighting of the history for the CF sources: the k-th most recent
  // event weighs 2^(-k / half_life) (in events; 0 = all events weigh 1).
  float itemknn_recency = 0.0f;
  float als_recency = 0.0f;
  float ease_recency = 0.0f;
  // How a history becomes the SLIST model's input (slist.h).
  SlistInputs slist_inputs;
};

// Item catalogue (dense indices shared by every model).
// The per-item arrays are ArrayStores (array_store.h): owned when built,
// views of the bundle's mapped files when loaded.
struct Catalogue {
  IdMap ids;
  std::vector<std::string> titles;
  // Per-item category lists (indices into category_names) as BuildCatalogue
  // makes them; empty in a loaded bundle, which has only the CSR below. Read
  // an item's categories through item_categories().
  std::vector<std::vector<int32_t>> categories;
  std::vector<std::string> category_names;
  ArrayStore<int64_t> release_time_s;  // per item; 0 = unknown
  ArrayStore<float> popularity;        // per item: training interaction counts
  // Sum of popularity (the training interactions), set by BuildCatalogue and
  // ModelBundle::Load (novelty's denominator, list_metrics.h).
  double popularity_total = 0;
  int32_t size() const { return ids.size(); }

  // The categories as one CSR array (size() + 1 offsets into category_flat),
  // for per-request loops over hundreds of items (one contiguous read instead
  // of a pointer chase per item). Built from `categories` by IndexCategories(),
  // mapped by ModelBundle::Load; item_categories() reads `categories` when
  // there is no CSR.
  ArrayStore<int64_t> category_offsets;
  ArrayStore<int32_t> category_flat;
  // Each category's items and the categories by name (category hints), derived
  // by IndexCategories() and ModelBundle::Load; empty before.
  CategoryIndex category_index;
  // Builds the CSR and category_index from `categories`.
  void IndexCategories();
  std::span<const int32_t> item_categories(ItemIndex i) const {
    if (category_offsets.size() == static_cast<size_t>(size()) + 1) {
      return {category_flat.data() + category_offsets[i],
              static_cast<size_t>(category_offsets[i + 1] - category_offsets[i])};
    }
    return categories[i];
  }
};

// The interaction histories the bundle was fit on, per external user id
// (oldest first), as CSR: user u's events are [offsets[u], offsets[u + 1]) of
// items and times_s. The gateway seeds its user store from them. Owned when
// built, views of the bundle's mapped files when loaded.
struct UserHistories {
  IdMap users;
  ArrayStore<int64_t> offsets;  // size users + 1
  ArrayStore<ItemIndex> items;
  ArrayStore<int64_t> times_s;
  static UserHistories FromEvents(const Dataset& data, std::span<const Interaction> events);
};

// Which artefacts Load reads. Every file's checksum is verified either way.
enum class BundleParts {
  kServing,    // every model retrieval and ranking need (no histories)
  kRetrieval,  // kServing plus retrieval's lexical search index (built at load)
  kGateway,    // manifest, parameters, catalogue, trending, histories, and the
               // content item embeddings alone (for list diversity; a mapped
               // view, see ContentModel::LoadItemEmbeddings)
};

struct ModelBundle {
  v1::BundleManifest manifest;
  ServingParams params;
  Catalogue catalogue;
  ContentModel content;
  VectorIndex content_index;
  ItemKnnModel itemknn;
  AlsModel als;
  VectorIndex als_index;
  std::optional<EaseModel> ease;
  std::optional<SlistModel> slist;  // the sequence-aware item-item model (slist.h)
  TrendingModel trending;
  MarkovTransitions markov;
  LogisticRanker ranker;
  UserHistories histories;  // empty unless loaded with BundleParts::kGateway
  // Search's lexical side over titles and category names (lexical_index.h):
  // built from the catalogue by Load with BundleParts::kRetrieval (nothing of
  // it is saved), empty otherwise.
  LexicalIndex lexical_index;
  // The trainer's measurement of each vector index against the exact scan
  // (index_recall.h); Save records them as manifest parameters "index.<name>.*",
  // and Load searches each HNSW index with its recorded ef_search.
  std::optional<IndexRecall> content_index_recall;
  std::optional<IndexRecall> als_index_recall;
  // Set when loaded as one retrieval shard of several (Load with a sharded
  // ShardSpec): the items it serves and its sliced indexes
  // (catalogue_shard.h). Its ALS index is then the sliced one only: the full
  // als_index is released (nothing else searches it), which saves (N-1)/N of
  // its memory.
  std::shared_ptr<const CatalogueShard> shard;

  int32_t num_items() const { return catalogue.size(); }

  // Writes every artefact into `dir` (an empty staging directory) and fills
  // manifest.parameters with the serving params; the registry then lists files
  // with checksums in the manifest and publishes the directory.
  absl::Status Save(const std::string& dir, v1::BundleManifest* manifest) const;
  // Reads manifest.json, verifies checksums and versions, loads everything.
  // The large arrays (embeddings, factors, neighbour and transition lists,
  // the catalogue's per-item arrays, histories) are views of the bundle's
  // files, memory-mapped read-only and verified over the mapping (each file's
  // SHA-256 is computed once, streaming, before any of it is used); strings,
  // the EASE and trending models and the FAISS indexes are read into the heap.
  // IMPORTANT: the bundle keeps its files mapped for as long as it lives; the
  // directory must never be modified in place meanwhile (mapping.h). Removing
  // it (registry gc) is safe: unlinked files stay mapped.
  // `shard` (kServing and kRetrieval only): load as that retrieval shard
  // (see `shard`).
  static absl::StatusOr<std::shared_ptr<const ModelBundle>> Load(
      const std::string& dir, BundleParts parts = BundleParts::kServing, ShardSpec shard = {});
};

// Builds the catalogue of a data set (popularity from `train`).
Catalogue BuildCatalogue(const Dataset& data, std::span<const Interaction> train);

}  // namespace recsys
