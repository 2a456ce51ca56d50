#include "retrieval_service/item_search.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/topk.h"

namespace recsys::retrieval {
namespace {

void AddItem(const Catalogue& catalogue, ItemIndex item, float score,
             google::protobuf::RepeatedPtrField<v1::ScoredItem>* out) {
  v1::ScoredItem* s = out->Add();
  s->set_item_id(catalogue.ids.Name(item));
  s->set_score(score);
  s->set_title(catalogue.titles[item]);
  for (int32_t c : catalogue.item_categories(item)) s->add_categories(catalogue.category_names[c]);
}

bool IsZero(const float* v, int d) {
  return std::all_of(v, v + d, [](float x) { return x == 0.0f; });
}

}  // namespace

// Why a weighted sum of the two scores and not reciprocal-rank fusion (RRF):
// RRF sees only ranks, so the best partial match (a title sharing one common
// word with a long query) counts as much as a title holding every word, and an
// item only one list found gets nothing from the other. Here both scores are
// computed exactly for every candidate (a hash lookup and one dot product),
// and they are on comparable scales by construction: about 1 for a title that
// holds the whole query, and a cosine of at most 1. With the lexical weight at
// 0.7 a title holding the whole query (lexical >= ~0.6 even for long titles)
// outranks any item the embedding alone found (at most 0.3) unless its own
// cosine is below about -0.4, which is what a person typing a title expects; among such titles, and
// among partial matches, the embedding's similarity decides; with no lexical match the order is the
// embedding's.
absl::Status SearchItems(const ModelBundle& bundle, const v1::SearchRequest& request,
                         v1::SearchResponse* response) {
  response->set_model_version(bundle.manifest.version());
  const int depth = std::max(request.k(), kSearchFusionDepth);
  const LexicalMatches lexical = bundle.lexical_index.Match(request.query());
  const std::vector<float> query = bundle.content.EmbedText(request.query());
  const int dim = static_cast<int>(query.size());
  // A query of unknown words embeds to zero: every cosine would tie at 0.
  const bool semantic = !query.empty() && !IsZero(query.data(), dim);

  std::vector<ScoredIndex> fused;
  absl::flat_hash_set<ItemIndex> seen;
  auto add = [&](ItemIndex item, float cosine) {
    if (!seen.insert(item).second) return;
    fused.push_back(ScoredIndex{
        item, kSearchLexicalWeight * lexical.score(item) + (1.0f - kSearchLexicalWeight) * cosine});
  };
  if (semantic) {
    absl::StatusOr<std::vector<Neighbor>> nb = bundle.content_index.Search(query.data(), depth, {});
    if (!nb.ok()) return nb.status();
    for (const Neighbor& n : *nb) add(static_cast<ItemIndex>(n.id), n.score);
  }
  for (const ScoredIndex& s : lexical.Top(depth)) {
    float cosine = 0.0f;
    if (semantic) {
      const float* e = bundle.content.item_embedding(s.item);
      for (int i = 0; i < dim; ++i) cosine += query[i] * e[i];
    }
    add(s.item, cosine);
  }
  SortAndTruncate(&fused, request.k());
  for (const ScoredIndex& s : fused) {
    AddItem(bundle.catalogue, s.item, s.score, response->mutable_items());
  }
  return absl::OkStatus();
}

absl::Status FindSimilarItems(const ModelBundle& bundle, const v1::SimilarItemsRequest& request,
                              v1::SimilarItemsResponse* response) {
  const std::optional<int32_t> found = bundle.catalogue.ids.Find(request.item_id());
  if (!found) {
    return absl::NotFoundError(absl::StrCat("unknown item id ", request.item_id()));
  }
  const ItemIndex item = *found;
  response->set_model_version(bundle.manifest.version());

  const float* embedding = bundle.content.item_embedding(item);
  if (!IsZero(embedding, bundle.content.dim())) {
    absl::StatusOr<std::vector<Neighbor>> nb =
        bundle.content_index.Search(embedding, request.k(), {int64_t{item}});
    if (!nb.ok()) return nb.status();
    for (const Neighbor& n : *nb) {
      AddItem(bundle.catalogue, static_cast<ItemIndex>(n.id), n.score, response->mutable_content());
    }
  }

  const SparseNeighbors& knn = bundle.itemknn.neighbors();
  if (item < knn.rows()) {
    auto ids = knn.row_ids(item);
    auto values = knn.row_values(item);
    std::vector<ScoredIndex> list;
    list.reserve(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] != item) list.push_back(ScoredIndex{ids[i], values[i]});
    }
    SortAndTruncate(&list, request.k());
    for (const ScoredIndex& s : list) {
      AddItem(bundle.catalogue, s.item, s.score, response->mutable_collaborative());
    }
  }
  return absl::OkStatus();
}

}  // namespace recsys::retrieval
