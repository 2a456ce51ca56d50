// Time-decayed popularity ("trending") computable as of any time.
//
// score_i(t) = sum over events e of item i with t_e < t of 2^(-(t - t_e) / half_life)
//
// Only events strictly before t count, so an evaluation case asked "as of" its
// held-out event's time never sees that event or anything later. Build keeps
// the events sorted by time plus checkpoints (a decayed per-item vector every
// `checkpoint_every` events), so ScoresAsOf costs O(num_items + checkpoint_every)
// instead of O(events). Memory: events * 8 bytes + checkpoints * num_items * 4.
// Immutable after construction; const methods are safe to call concurrently.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/data/dataset.h"

namespace recsys {

class TrendingModel {
 public:
  struct Event {
    int64_t timestamp_s;
    ItemIndex item;
  };

  TrendingModel() = default;
  // `events` in any order (stable-sorted by time here); half_life_s > 0.
  TrendingModel(std::span<const Interaction> events, int32_t num_items, double half_life_s,
                int32_t checkpoint_every = 0);

  // Dense scores as of `as_of_s` (Unix seconds); size num_items.
  void ScoresAsOf(int64_t as_of_s, std::vector<float>* scores) const;
  // As of just after the last event (serving "now": decay is uniform, so the
  // order equals the order at any later time).
  int64_t latest_time() const { return events_.empty() ? 0 : events_.back().timestamp_s + 1; }

  double half_life_s() const { return half_life_s_; }
  int32_t num_items() const { return num_items_; }
  const std::vector<Event>& events() const { return events_; }

 private:
  double half_life_s_ = 0;
  int32_t num_items_ = 0;
  int32_t checkpoint_every_ = 0;
  std::vector<Event> events_;  // sorted by time, stable
  // checkpoint j covers events [0, (j+1) * checkpoint_every), decayed to the
  // time of the last event it covers.
  std::vector<int64_t> checkpoint_time_;
  std::vector<std::vector<float>> checkpoint_scores_;
};

// Plain interaction counts per item (the Popularity baseline).
std::vector<float> PopularityCounts(std::span<const Interaction> events, int32_t num_items);

}  // namespace recsys
