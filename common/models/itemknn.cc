// Item-kNN neighbour votes (the serving half; Fit is in itemknn_fit.cc).
#include "common/models/itemknn.h"

#include <algorithm>

namespace recsys {

void ItemKnnModel::Score(std::span<const ItemIndex> history,
                         absl::flat_hash_map<ItemIndex, float>* scores) const {
  const std::vector<float> ones(history.size(), 1.0f);
  Score(history, ones, scores);
}

void ItemKnnModel::Score(std::span<const ItemIndex> history, std::span<const float> weights,
                         absl::flat_hash_map<ItemIndex, float>* scores) const {
  const int32_t n = neighbors_.rows();
  // One allocation up front instead of rehashing as the votes arrive.
  size_t votes = 0;
  for (ItemIndex i : history) {
    if (i >= 0 && i < n) votes += neighbors_.row_ids(i).size();
  }
  scores->reserve(scores->size() + std::min<size_t>(votes, static_cast<size_t>(n)));
  ForEachVote(history, weights, [scores](ItemIndex j, float vote) { (*scores)[j] += vote; });
}

void ItemKnnModel::ScoreSparse(std::span<const ItemIndex> history,
                               std::span<const float> weights, ItemVotes* votes) const {
  const int32_t n = neighbors_.rows();
  size_t total = 0;
  for (ItemIndex i : history) {
    if (i >= 0 && i < n) total += neighbors_.row_ids(i).size();
  }
  // Neighbour lists of a history overlap: about half the votes go to an item
  // voted for already (the table grows if not).
  votes->Reset(std::min<size_t>(total / 2 + 1, static_cast<size_t>(n)));
  ForEachVote(history, weights, [votes](ItemIndex j, float vote) { votes->Add(j, vote); });
  votes->Finish();
}

void ItemKnnModel::ScoreDense(std::span<const ItemIndex> history, std::span<const float> weights,
                              std::vector<float>* scores, std::vector<ItemIndex>* voted) const {
  const int32_t n = neighbors_.rows();
  scores->assign(static_cast<size_t>(n), 0.0f);
  voted->clear();
  std::vector<uint8_t> seen(static_cast<size_t>(n), 0);
  ForEachVote(history, weights, [&](ItemIndex j, float vote) {
    (*scores)[j] += vote;
    if (!seen[j]) {
      seen[j] = 1;
      voted->push_back(j);
    }
  });
}

}  // namespace recsys
