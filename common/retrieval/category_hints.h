// Category hints for cold start: a user without known history may name
// categories (UserContext.categories, the gateway's context_categories), and
// trending then lists the items of those categories first, then the rest of
// trending. One rule for retrieval's trending source (a cold-start Retrieve,
// sources/trending.h) and the gateway's own trending answers (its cold start
// and its fallback, gateway/answer_items.h), so both give the same items in
// the same order.
//
//   CategoryHints hints = ResolveCategoryHints(bundle.catalogue, request.categories());
//   HintedTrending list = HintedTrendingTop(bundle.catalogue, trending_as_of,
//                                           hints.categories, k, skip);
//
// Threading: free functions over immutable inputs; safe to call concurrently.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "common/bundle/model_bundle.h"
#include "common/models/trending.h"
#include "common/topk.h"

namespace recsys {

struct CategoryHints {
  std::vector<int32_t> categories;  // catalogue category indices, distinct, ascending
  int unknown = 0;                  // names no category has (ignored)
};

// Adds the categories named `name` (ASCII case ignored: "comedy" finds
// "Comedy") to `hints`, or counts it unknown. Call Finish once after the last.
void AddCategoryHint(const Catalogue& catalogue, absl::string_view name, CategoryHints* hints);
// Sorts and deduplicates hints->categories.
void FinishCategoryHints(CategoryHints* hints);

// Every name of `names` (any range of strings, e.g. a repeated proto field)
// resolved against the catalogue (Catalogue::category_index). O(names * log
// categories).
template <typename Names>
CategoryHints ResolveCategoryHints(const Catalogue& catalogue, const Names& names) {
  CategoryHints hints;
  for (const auto& name : names) AddCategoryHint(catalogue, name, &hints);
  FinishCategoryHints(&hints);
  return hints;
}

struct HintedTrending {
  std::vector<ScoredIndex> items;  // with their trending scores
  int hinted = 0;                  // items[0, hinted) are in a hinted category
};

// The best `k` items `skip` lets through: first those in any of `categories`
// (CategoryHints::categories) in trending order (score descending, then item
// index: RanksBefore), then the rest of trending in the same order, up to k.
// Without categories: trending's top k. Equal, item for item, to filtering
// the dense scores of `trending` (TrendingModel::ScoresAsOf) this way.
// Cost: with M the hinted categories' sizes summed, the items of each hinted
// category are scored directly when M * M <= k * items (O(M log k)), else
// trending is walked in its order with a category test (expected O(k * items
// / M) "now"; TrendingAsOf::Top's cost at a past time): about sqrt(k * items)
// items per request either way (7,000 for k = 50 at 10^6 items); then
// TrendingAsOf::Top for the rest, O(k + hinted) "now".
HintedTrending HintedTrendingTop(const Catalogue& catalogue, const TrendingAsOf& trending,
                                 std::span<const int32_t> categories, int k,
                                 absl::FunctionRef<bool(ItemIndex)> skip);

}  // namespace recsys
