#include "common/data/dataset.h"

namespace recsys {

int32_t IdMap::GetOrAdd(absl::string_view id) {
  auto [it, inserted] = index_.try_emplace(std::string(id), size());
  if (inserted) names_.emplace_back(id);
  return it->second;
}

std::optional<int32_t> IdMap::Find(absl::string_view id) const {
  auto it = index_.find(id);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

ItemIndex Dataset::ItemOrAdd(absl::string_view id) {
  const ItemIndex index = items.GetOrAdd(id);
  if (index >= static_cast<ItemIndex>(item_info.size())) item_info.resize(index + 1);
  return index;
}

const char* DataFormatName(DataFormat f) {
  switch (f) {
    case DataFormat::kAuto: return "auto";
    case DataFormat::kMovieLensLatest: return "movielens";
    case DataFormat::kMovieLens100k: return "movielens-100k";
    case DataFormat::kMind: return "mind";
    case DataFormat::kGeneric: return "generic";
  }
  return "?";
}

std::optional<DataFormat> ParseDataFormat(absl::string_view name) {
  for (DataFormat f : {DataFormat::kAuto, DataFormat::kMovieLensLatest,
                       DataFormat::kMovieLens100k, DataFormat::kMind, DataFormat::kGeneric}) {
    if (name == DataFormatName(f)) return f;
  }
  return std::nullopt;
}

}  // namespace recsys
