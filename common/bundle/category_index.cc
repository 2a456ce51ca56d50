#include "common/bundle/category_index.h"

#include <algorithm>

#include "absl/strings/ascii.h"

namespace recsys {

CategoryIndex CategoryIndex::Build(
    std::span<const std::string> names, int32_t num_items,
    absl::FunctionRef<std::span<const int32_t>(ItemIndex)> categories_of) {
  CategoryIndex index;
  const size_t categories = names.size();
  index.by_name_.reserve(categories);
  for (size_t c = 0; c < categories; ++c) {
    index.by_name_.emplace_back(absl::AsciiStrToLower(names[c]), static_cast<int32_t>(c));
  }
  std::sort(index.by_name_.begin(), index.by_name_.end());
  auto known = [categories](int32_t c) { return c >= 0 && static_cast<size_t>(c) < categories; };
  index.offsets_.assign(categories + 1, 0);
  for (ItemIndex i = 0; i < num_items; ++i) {
    for (int32_t c : categories_of(i)) {
      if (known(c)) ++index.offsets_[c + 1];
    }
  }
  for (size_t c = 0; c < categories; ++c) index.offsets_[c + 1] += index.offsets_[c];
  index.items_.resize(index.offsets_.back());
  std::vector<int64_t> cursor(index.offsets_.begin(), index.offsets_.end() - 1);
  for (ItemIndex i = 0; i < num_items; ++i) {
    for (int32_t c : categories_of(i)) {
      // An item listing a category twice is one member.
      if (known(c) && (cursor[c] == index.offsets_[c] || index.items_[cursor[c] - 1] != i)) {
        index.items_[cursor[c]++] = i;
      }
    }
  }
  // Drop the slots duplicates left unused (rare: only malformed lists).
  int64_t write = 0;
  for (size_t c = 0; c < categories; ++c) {
    const int64_t begin = index.offsets_[c], end = cursor[c];
    index.offsets_[c] = write;
    for (int64_t p = begin; p < end; ++p) index.items_[write++] = index.items_[p];
  }
  index.offsets_[categories] = write;
  index.items_.resize(write);
  return index;
}

void CategoryIndex::Find(absl::string_view name, std::vector<int32_t>* out) const {
  const std::string key = absl::AsciiStrToLower(name);
  auto it =
      std::lower_bound(by_name_.begin(), by_name_.end(), key,
                       [](const auto& entry, const std::string& k) { return entry.first < k; });
  for (; it != by_name_.end() && it->first == key; ++it) out->push_back(it->second);
}

std::span<const ItemIndex> CategoryIndex::items(int32_t c) const {
  if (c < 0 || static_cast<size_t>(c) + 1 >= offsets_.size()) return {};
  return {items_.data() + offsets_[c], static_cast<size_t>(offsets_[c + 1] - offsets_[c])};
}

}  // namespace recsys
