// FitMarkovTransitions: counts consecutive-event transitions per user (the
// Markov transition model is fit only; serving reads its neighbour lists).
//
// Scale: the transitions are gathered as one flat array of (from, to) keys
// (8 bytes per event), sorted, and counted run by run, so memory is linear in
// events with no per-item hash maps, and time is one sort.
#include <algorithm>

#include "common/models/markov.h"
#include "common/models/top_n_rows.h"

namespace recsys {

MarkovTransitions FitMarkovTransitions(std::span<const Interaction> events, int32_t num_users,
                                     int32_t num_items, int top_n) {
  // Event positions grouped by user (file order), then each user's by time.
  std::vector<int64_t> offsets(static_cast<size_t>(num_users) + 1, 0);
  for (const Interaction& e : events) ++offsets[e.user + 1];
  for (int32_t u = 0; u < num_users; ++u) offsets[u + 1] += offsets[u];
  std::vector<int64_t> pos(events.size());
  {
    std::vector<int64_t> next(offsets.begin(), offsets.end() - 1);
    for (int64_t i = 0; i < static_cast<int64_t>(events.size()); ++i) {
      pos[next[events[i].user]++] = i;
    }
  }
  std::vector<uint64_t> keys;  // from << 32 | to
  keys.reserve(events.size());
  for (int32_t u = 0; u < num_users; ++u) {
    auto first = pos.begin() + offsets[u], last = pos.begin() + offsets[u + 1];
    std::stable_sort(first, last, [&](int64_t a, int64_t b) {
      return events[a].timestamp_s < events[b].timestamp_s;
    });
    for (auto it = first; it != last && it + 1 != last; ++it) {
      const ItemIndex from = events[*it].item, to = events[*(it + 1)].item;
      if (from != to) {
        keys.push_back(static_cast<uint64_t>(static_cast<uint32_t>(from)) << 32 |
                       static_cast<uint32_t>(to));
      }
    }
  }
  pos = {};
  offsets = {};
  std::sort(keys.begin(), keys.end());
  MarkovTransitions nb;
  nb.offsets.reserve(static_cast<size_t>(num_items) + 1);
  nb.offsets.push_back(0);
  std::vector<ScoredIndex> row;
  size_t k = 0;
  for (ItemIndex i = 0; i < num_items; ++i) {
    row.clear();
    float total = 0;
    while (k < keys.size() && static_cast<ItemIndex>(keys[k] >> 32) == i) {
      const uint64_t key = keys[k];
      float count = 0;
      for (; k < keys.size() && keys[k] == key; ++k) count += 1.0f;
      total += count;
      row.push_back(ScoredIndex{static_cast<ItemIndex>(key & 0xffffffffu), count});
    }
    for (ScoredIndex& s : row) s.score /= total;
    AppendTopN(&row, top_n, &nb);
  }
  return nb;
}

}  // namespace recsys
