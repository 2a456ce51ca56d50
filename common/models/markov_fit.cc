// FitMarkovTransitions: counts consecutive-event transitions per user (the
// Markov transition model is fit only; serving reads its neighbour lists).
#include "common/models/markov.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "common/models/top_n_rows.h"

namespace recsys {

MarkovTransitions FitMarkovTransitions(std::span<const Interaction> events, int32_t num_users,
                                     int32_t num_items, int top_n) {
  std::vector<std::vector<Interaction>> by_user(num_users);
  for (const Interaction& e : events) by_user[e.user].push_back(e);
  std::vector<absl::flat_hash_map<ItemIndex, float>> counts(num_items);
  for (auto& list : by_user) {
    std::stable_sort(list.begin(), list.end(), [](const Interaction& a, const Interaction& b) {
      return a.timestamp_s < b.timestamp_s;
    });
    for (size_t k = 1; k < list.size(); ++k) {
      if (list[k - 1].item != list[k].item) counts[list[k - 1].item][list[k].item] += 1.0f;
    }
  }
  MarkovTransitions nb;
  nb.offsets.push_back(0);
  for (ItemIndex i = 0; i < num_items; ++i) {
    float total = 0;
    std::vector<ScoredIndex> row;
    row.reserve(counts[i].size());
    for (const auto& [j, c] : counts[i]) {
      total += c;
      row.push_back(ScoredIndex{j, c});
    }
    for (ScoredIndex& s : row) s.score /= total;
    AppendTopN(&row, top_n, &nb);
  }
  return nb;
}

}  // namespace recsys
