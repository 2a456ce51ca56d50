#include "common/retrieval/category_hints.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"

namespace recsys {

void AddCategoryHint(const Catalogue& catalogue, absl::string_view name, CategoryHints* hints) {
  const size_t before = hints->categories.size();
  catalogue.category_index.Find(name, &hints->categories);
  if (hints->categories.size() == before) ++hints->unknown;
}

void FinishCategoryHints(CategoryHints* hints) {
  std::vector<int32_t>& c = hints->categories;
  std::sort(c.begin(), c.end());
  c.erase(std::unique(c.begin(), c.end()), c.end());
}

HintedTrending HintedTrendingTop(const Catalogue& catalogue, const TrendingAsOf& trending,
                                 std::span<const int32_t> categories, int k,
                                 absl::FunctionRef<bool(ItemIndex)> skip) {
  HintedTrending out;
  if (k <= 0) return out;
  if (!categories.empty()) {
    int64_t members = 0;
    for (int32_t c : categories) members += catalogue.category_index.items(c).size();
    if (members * members <= int64_t{k} * catalogue.size()) {
      // Few members: score each one (an item in two hinted categories once).
      std::vector<ItemIndex> items;
      items.reserve(members);
      for (int32_t c : categories) {
        for (ItemIndex i : catalogue.category_index.items(c)) items.push_back(i);
      }
      if (categories.size() > 1) {
        std::sort(items.begin(), items.end());
        items.erase(std::unique(items.begin(), items.end()), items.end());
      }
      for (ItemIndex i : items) {
        if (!skip(i)) out.items.push_back(ScoredIndex{i, trending.score(i)});
      }
      SortAndTruncate(&out.items, k);
    } else {
      // Many members: they come soon in trending order.
      auto hinted = [&](ItemIndex i) {
        for (int32_t c : catalogue.item_categories(i)) {
          if (std::binary_search(categories.begin(), categories.end(), c)) return true;
        }
        return false;
      };
      out.items = trending.Top(k, [&](ItemIndex i) { return skip(i) || !hinted(i); });
    }
  }
  out.hinted = static_cast<int>(out.items.size());
  if (out.hinted >= k) return out;
  absl::flat_hash_set<ItemIndex> taken;
  for (const ScoredIndex& s : out.items) taken.insert(s.item);
  for (const ScoredIndex& s :
       trending.Top(k - out.hinted, [&](ItemIndex i) { return skip(i) || taken.contains(i); })) {
    out.items.push_back(s);
  }
  return out;
}

}  // namespace recsys
