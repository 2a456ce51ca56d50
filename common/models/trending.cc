#include "common/models/trending.h"

#include <algorithm>
#include <cmath>

namespace recsys {

TrendingModel::TrendingModel(std::span<const Interaction> events, int32_t num_items,
                             double half_life_s, int32_t checkpoint_every)
    : half_life_s_(half_life_s), num_items_(num_items) {
  events_.reserve(events.size());
  for (const Interaction& e : events) events_.push_back(Event{e.timestamp_s, e.item});
  std::stable_sort(events_.begin(), events_.end(),
                   [](const Event& a, const Event& b) { return a.timestamp_s < b.timestamp_s; });
  // At most ~64 checkpoints, at least 4096 events apart.
  checkpoint_every_ = checkpoint_every > 0
                          ? checkpoint_every
                          : std::max<int32_t>(4096, static_cast<int32_t>(events_.size() / 64));
  // Checkpoint j = checkpoint j-1 decayed to T_j plus the interval's events,
  // each decayed to T_j: O(num_items) per checkpoint and O(1) per event.
  std::vector<double> acc(num_items, 0.0);
  int64_t acc_time = events_.empty() ? 0 : events_.front().timestamp_s;
  const double rate = std::log(2.0) / half_life_s_;
  const size_t n = events_.size();
  for (size_t start = 0; start + checkpoint_every_ <= n; start += checkpoint_every_) {
    const size_t end = start + checkpoint_every_;
    const int64_t t_j = events_[end - 1].timestamp_s;
    const double decay = std::exp(-rate * static_cast<double>(t_j - acc_time));
    for (double& v : acc) v *= decay;
    for (size_t i = start; i < end; ++i) {
      acc[events_[i].item] += std::exp(-rate * static_cast<double>(t_j - events_[i].timestamp_s));
    }
    acc_time = t_j;
    checkpoint_time_.push_back(t_j);
    checkpoint_scores_.emplace_back(acc.begin(), acc.end());
  }
}

void TrendingModel::ScoresAsOf(int64_t as_of_s, std::vector<float>* scores) const {
  scores->assign(num_items_, 0.0f);
  // Events strictly before as_of_s.
  const size_t end = std::lower_bound(events_.begin(), events_.end(), as_of_s,
                                      [](const Event& e, int64_t t) { return e.timestamp_s < t;
                                      }) - events_.begin();
  const size_t full = end / checkpoint_every_;  // checkpoints fully before `end`
  size_t start = 0;
  const double rate = std::log(2.0) / half_life_s_;
  if (full > 0) {
    const size_t j = full - 1;
    const double decay = std::exp(-rate * static_cast<double>(as_of_s - checkpoint_time_[j]));
    const std::vector<float>& base = checkpoint_scores_[j];
    for (int32_t i = 0; i < num_items_; ++i) (*scores)[i] = static_cast<float>(base[i] * decay);
    start = full * checkpoint_every_;
  }
  for (size_t i = start; i < end; ++i) {
    const Event& e = events_[i];
    (*scores)[e.item] +=
        static_cast<float>(std::exp(-rate * static_cast<double>(as_of_s - e.timestamp_s)));
  }
}

std::vector<float> PopularityCounts(std::span<const Interaction> events, int32_t num_items) {
  std::vector<float> counts(num_items, 0.0f);
  for (const Interaction& e : events) counts[e.item] += 1.0f;
  return counts;
}

}  // namespace recsys
