#include "retrieval_service/item_search.h"

#include <algorithm>
#include <optional>
#include <vector>

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

absl::Status SearchItems(const ModelBundle& bundle, const v1::SearchRequest& request,
                         v1::SearchResponse* response) {
  response->set_model_version(bundle.manifest.version());
  const std::vector<float> query = bundle.content.EmbedText(request.query());
  // A query of unknown words embeds to zero: every score would tie at 0.
  if (query.empty() || IsZero(query.data(), static_cast<int>(query.size()))) {
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<Neighbor>> nb =
      bundle.content_index.Search(query.data(), request.k(), {});
  if (!nb.ok()) return nb.status();
  for (const Neighbor& n : *nb) {
    AddItem(bundle.catalogue, static_cast<ItemIndex>(n.id), n.score, response->mutable_items());
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
