#include "gateway/answer_items.h"

#include <vector>

#include "common/retrieval/category_hints.h"
#include "common/topk.h"

namespace recsys::gateway {

void FillItem(const ModelBundle& bundle, ItemIndex item, float score, v1::ScoredItem* out) {
  out->set_item_id(bundle.catalogue.ids.Name(item));
  out->set_score(score);
  out->set_title(bundle.catalogue.titles[item]);
  for (int32_t c : bundle.catalogue.item_categories(item)) {
    out->add_categories(bundle.catalogue.category_names[c]);
  }
}

void FillTrending(const ModelBundle& bundle, int64_t as_of_s,
                  const absl::flat_hash_set<ItemIndex>& exclude,
                  const google::protobuf::RepeatedPtrField<std::string>& categories, int k,
                  v1::RecommendResponse* response) {
  const TrendingAsOf trending(bundle.trending,
                              as_of_s > 0 ? as_of_s : bundle.trending.latest_time());
  const CategoryHints hints = ResolveCategoryHints(bundle.catalogue, categories);
  const HintedTrending top =
      HintedTrendingTop(bundle.catalogue, trending, hints.categories, k,
                        [&exclude](ItemIndex i) { return exclude.contains(i); });
  for (const ScoredIndex& s : top.items) FillItem(bundle, s.item, s.score, response->add_items());
}

void FillRetrievalOrder(const ModelBundle& bundle,
                        const google::protobuf::RepeatedPtrField<v1::Candidate>& candidates, int k,
                        v1::RecommendResponse* response) {
  int n = 0;
  for (const v1::Candidate& c : candidates) {
    if (n >= k) break;
    v1::ScoredItem* out = response->add_items();
    const float score = 1.0f / static_cast<float>(n + 1);
    if (auto i = bundle.catalogue.ids.Find(c.item_id())) {
      FillItem(bundle, *i, score, out);
    } else {
      out->set_item_id(c.item_id());
      out->set_score(score);
    }
    ++n;
  }
}

void FillRanked(const ModelBundle& bundle,
                google::protobuf::RepeatedPtrField<v1::ScoredItem>* ranked,
                v1::RecommendResponse* response) {
  for (v1::ScoredItem& item : *ranked) {
    v1::ScoredItem* out = response->add_items();
    if (auto i = bundle.catalogue.ids.Find(item.item_id())) {
      FillItem(bundle, *i, item.score(), out);
    } else {
      out->Swap(&item);
    }
  }
}

}  // namespace recsys::gateway
