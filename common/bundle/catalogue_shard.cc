#include "common/bundle/catalogue_shard.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/fingerprint.h"
#include "common/status.h"

namespace recsys {

std::string ShardSpec::ToString() const { return absl::StrCat(index, "/", count); }

absl::StatusOr<ShardSpec> ParseShardSpec(absl::string_view text) {
  if (text.empty()) return ShardSpec{};
  std::vector<absl::string_view> parts = absl::StrSplit(text, '/');
  ShardSpec spec;
  const bool digits_only = std::all_of(text.begin(), text.end(), [](char ch) {
    return ch == '/' || (ch >= '0' && ch <= '9');
  });
  if (!digits_only || parts.size() != 2 || !absl::SimpleAtoi(parts[0], &spec.index) ||
      !absl::SimpleAtoi(parts[1], &spec.count) || spec.count < 1 || spec.count > kMaxShards ||
      spec.index < 0 || spec.index >= spec.count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "shard \"", text, "\": expected i/N with 0 <= i < N <= ", kMaxShards, " (e.g. 0/2)"));
  }
  return spec;
}

int ShardOfItem(absl::string_view id, int count) {
  if (count <= 1) return 0;
  Fingerprint64 f;
  f.Bytes(id.data(), id.size());
  return static_cast<int>(f.value() % static_cast<uint64_t>(count));
}

absl::StatusOr<CatalogueShard> CatalogueShard::Build(ShardSpec spec, const IdMap& ids,
                                                     const VectorIndex& content_index,
                                                     const VectorIndex& als_index) {
  CatalogueShard shard;
  shard.spec_ = spec;
  shard.owned_.assign(static_cast<size_t>(ids.size()), 0);
  for (int32_t i = 0; i < ids.size(); ++i) {
    if (ShardOfItem(ids.Name(i), spec.count) == spec.index) {
      shard.owned_[i] = 1;
      shard.items_.push_back(i);
    }
  }
  auto slice = [&](const VectorIndex& full,
                   std::optional<VectorIndex>* out) -> absl::Status {
    if (full.size() == 0 || !spec.sharded()) return absl::OkStatus();
    if (full.size() != ids.size()) {
      return absl::DataLossError(absl::StrCat("shard: an index of ", full.size(),
                                              " vectors for a catalogue of ", ids.size()));
    }
    auto sub = full.Subset(shard.items_);
    if (absl::IsUnimplemented(sub.status())) return absl::OkStatus();  // HNSW: filter whole
    if (!sub.ok()) return sub.status();
    *out = *std::move(sub);
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(slice(content_index, &shard.content_));
  RETURN_IF_ERROR(slice(als_index, &shard.als_));
  return shard;
}

absl::StatusOr<std::vector<Neighbor>> CatalogueShard::SearchOwned(
    Index index, const VectorIndex& full, const float* query, int k,
    const std::vector<int64_t>& exclude_sorted) const {
  const std::optional<VectorIndex>& sliced = index == Index::kContent ? content_ : als_;
  if (sliced.has_value()) {
    // Exclusions in local ids: the owned ones, found by binary search (the
    // local order is the catalogue order, so the list stays ascending).
    std::vector<int64_t> local;
    for (int64_t item : exclude_sorted) {
      if (!Owns(static_cast<ItemIndex>(item))) continue;
      local.push_back(std::lower_bound(items_.begin(), items_.end(), item) - items_.begin());
    }
    ASSIGN_OR_RETURN(std::vector<Neighbor> found, sliced->Search(query, k, local));
    for (Neighbor& n : found) n.id = items_[n.id];
    return found;
  }
  // Unsliced (HNSW): ask the whole index for this shard's share and more.
  const int64_t want = std::min<int64_t>(
      full.size(), static_cast<int64_t>(k) * spec_.count + 2 * static_cast<int64_t>(k));
  if (want <= 0) return std::vector<Neighbor>{};
  ASSIGN_OR_RETURN(std::vector<Neighbor> found,
                   full.Search(query, static_cast<int>(want), exclude_sorted));
  std::vector<Neighbor> owned;
  for (const Neighbor& n : found) {
    if (static_cast<int>(owned.size()) >= k) break;
    if (Owns(static_cast<ItemIndex>(n.id))) owned.push_back(n);
  }
  return owned;
}

}  // namespace recsys
