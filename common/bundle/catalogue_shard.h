// The part of the catalogue one retrieval shard serves. Items are assigned to
// shards by a stable hash of their external id (ShardOfItem), so the
// assignment agrees across processes, builds, bundle versions and machines,
// and an item keeps its shard when the catalogue grows.
//
// A bundle loaded as shard i of N (ModelBundle::Load with a ShardSpec) keeps
// everything it holds (the user side of every model: profiles, fold-ins,
// neighbour votes, transitions need every history item) and adds a
// CatalogueShard: which items it owns, and the two item-side vector indexes
// cut down to them. Every retrieval source then answers with its best items
// among the owned ones (UserState::Skips), and
//
//   merging the N shards' lists per source by score (RanksBefore) and cutting
//   each to its quota gives exactly the list the unsharded service returns,
//
// because each source's list is the top of a candidate set that does not
// depend on the shard, restricted to the shard's items, with every score
// computed the same way (the scan's score of a row does not depend on its
// neighbours). The gateway merges (gateway/retrieval_shards.h).
//
// Why slice at load instead of per-shard bundles: one bundle, one checksum
// set, one promotion and one alias for every shard, so shards cannot serve
// mismatched catalogues, and the trainer is unchanged. What it saves: per
// request the content and ALS scans read 1/N of the rows (they dominate
// retrieval time at large catalogues); what it does not: memory, since the
// whole bundle is still mapped (the sliced indexes add 1/N of theirs).
//
// Threading: immutable after construction; safe to read concurrently.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/data/dataset.h"
#include "common/index/vector_index.h"

namespace recsys {

// Shard `index` of `count` (0 <= index < count). count 1 = the whole catalogue.
struct ShardSpec {
  int index = 0;
  int count = 1;
  bool sharded() const { return count > 1; }
  // "i/N"
  std::string ToString() const;
  bool operator==(const ShardSpec&) const = default;
};

// The largest shard count accepted.
inline constexpr int kMaxShards = 256;

// Parses "i/N" (0 <= i < N <= kMaxShards); "" = 0/1. InvalidArgument otherwise.
absl::StatusOr<ShardSpec> ParseShardSpec(absl::string_view text);

// The shard of an item with external id `id` among `count` shards: FNV-1a 64
// of the id's bytes, modulo count. Stable forever: changing it reshuffles
// every deployed shard.
int ShardOfItem(absl::string_view id, int count);

class CatalogueShard {
 public:
  // The shard `spec` of a catalogue with ids `ids`, with the content and ALS
  // indexes cut to its items where they are exact scans (an HNSW index is
  // kept whole: searches then filter it, see SearchOwned). Empty indexes stay
  // empty.
  static absl::StatusOr<CatalogueShard> Build(ShardSpec spec, const IdMap& ids,
                                              const VectorIndex& content_index,
                                              const VectorIndex& als_index);

  const ShardSpec& spec() const { return spec_; }
  bool Owns(ItemIndex item) const {
    return item >= 0 && static_cast<size_t>(item) < owned_.size() && owned_[item] != 0;
  }
  // Owned catalogue indices, ascending.
  std::span<const int64_t> items() const { return items_; }

  enum class Index { kContent, kAls };
  // True when `index` was cut to the owned items (an exact scan).
  bool has_sliced(Index index) const {
    return (index == Index::kContent ? content_ : als_).has_value();
  }
  // The `k` best owned items for `query` in the bundle's `index` (`full`, the
  // unsliced one), never one in `exclude_sorted` (catalogue indices,
  // ascending), as (catalogue index, score), best first. Exact when the index
  // was sliced; an HNSW index is searched whole for more and filtered
  // (approximate, as HNSW is).
  absl::StatusOr<std::vector<Neighbor>> SearchOwned(Index index, const VectorIndex& full,
                                                    const float* query, int k,
                                                    const std::vector<int64_t>& exclude_sorted) const;

 private:
  ShardSpec spec_;
  std::vector<uint8_t> owned_;   // per catalogue item
  std::vector<int64_t> items_;   // owned catalogue indices, ascending
  std::optional<VectorIndex> content_;  // sliced (local id j = items_[j])
  std::optional<VectorIndex> als_;
};

}  // namespace recsys
