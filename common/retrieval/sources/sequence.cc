#include "common/retrieval/sources/sequence.h"

#include "absl/container/flat_hash_map.h"
#include "common/dot.h"
#include "common/retrieval/sources/index_search.h"
#include "common/status.h"

namespace recsys::retrieval {

absl::StatusOr<std::vector<ScoredIndex>> SequenceRetriever::Retrieve(const ModelBundle& bundle,
                                                                     const UserState& state,
                                                                     int k) const {
  if (k <= 0 || state.history.empty()) return std::vector<ScoredIndex>{};
  const ItemIndex last = state.history.back().item;
  const int d = bundle.content.dim();
  const float* last_emb = bundle.content.item_embedding(last);
  const float beta = bundle.params.sequence_blend;
  absl::flat_hash_map<ItemIndex, float> blended;
  for (const auto& [item, p] : state.markov_scores) {
    if (state.Skips(item)) continue;
    blended[item] = beta * p + (1 - beta) * Dot(last_emb, bundle.content.item_embedding(item), d);
  }
  if (beta < 1.0f) {
    // Items close to the last one in content, whether or not a transition led
    // there. On a shard: the whole catalogue's k nearest, then its own among
    // them (not its own k nearest), so that the candidate set is the
    // unsharded one restricted to the shard and the merged lists are exact.
    ASSIGN_OR_RETURN(std::vector<ScoredIndex> near,
                     SearchExcluding(bundle.content_index, last_emb, k, state));
    for (const ScoredIndex& n : near) {
      if (blended.contains(n.item)) continue;
      auto it = state.markov_scores.find(n.item);
      const float p = it == state.markov_scores.end() ? 0.0f : it->second;
      blended[n.item] = beta * p + (1 - beta) * n.score;
    }
  }
  std::vector<ScoredIndex> list;
  list.reserve(blended.size());
  for (const auto& [item, score] : blended) list.push_back(ScoredIndex{item, score});
  SortAndTruncate(&list, k);
  return list;
}

}  // namespace recsys::retrieval
