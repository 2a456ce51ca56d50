// The catalogue's categories turned around, for category hints
// (common/retrieval/category_hints.h): each category's items, and the
// categories by name. Derived from the per-item category lists whenever a
// catalogue is indexed (Catalogue::IndexCategories, ModelBundle::Load);
// nothing of it is saved in the bundle.
//
// Memory: 4 bytes per (item, category) pair plus 8 per category, and the
// names once more (lower-cased). Build: O(pairs + categories log categories).
// Immutable after Build; const methods are safe to call concurrently.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "common/data/dataset.h"

namespace recsys {

class CategoryIndex {
 public:
  CategoryIndex() = default;  // no categories: Find finds nothing

  // `categories_of(i)` lists item i's categories (indices into `names`; others
  // are ignored), for items 0..num_items-1.
  static CategoryIndex Build(std::span<const std::string> names, int32_t num_items,
                             absl::FunctionRef<std::span<const int32_t>(ItemIndex)> categories_of);

  // Appends to `out` every category whose name equals `name` ignoring ASCII
  // case ("comedy" finds "Comedy"), ascending; nothing for an unknown name.
  // O(log categories).
  void Find(absl::string_view name, std::vector<int32_t>* out) const;
  // The items of category `c`, ascending (empty for an unknown c).
  std::span<const ItemIndex> items(int32_t c) const;
  int32_t num_categories() const { return static_cast<int32_t>(by_name_.size()); }

 private:
  std::vector<std::pair<std::string, int32_t>> by_name_;  // (lower-cased name, category), sorted
  std::vector<int64_t> offsets_;                          // category -> items_, size categories + 1
  std::vector<ItemIndex> items_;
};

}  // namespace recsys
