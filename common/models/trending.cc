#include "common/models/trending.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace recsys {
namespace {

// Events at index < end have timestamp < as_of_s (times sorted ascending).
size_t EventsBefore(const std::vector<int64_t>& times, int64_t as_of_s) {
  return static_cast<size_t>(std::lower_bound(times.begin(), times.end(), as_of_s) - times.begin());
}

}  // namespace

TrendingModel::TrendingModel(std::span<const Interaction> events, int32_t num_items,
                             double half_life_s, int32_t checkpoint_every, int32_t candidates)
    : half_life_s_(half_life_s),
      num_items_(num_items),
      candidates_(std::max<int32_t>(1, candidates)) {
  {
    struct Event {
      int64_t timestamp_s;
      ItemIndex item;
    };
    std::vector<Event> sorted;
    sorted.reserve(events.size());
    for (const Interaction& e : events) sorted.push_back(Event{e.timestamp_s, e.item});
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const Event& a, const Event& b) { return a.timestamp_s < b.timestamp_s; });
    times_.reserve(sorted.size());
    items_.reserve(sorted.size());
    for (const Event& e : sorted) {
      times_.push_back(e.timestamp_s);
      items_.push_back(e.item);
    }
  }
  const size_t n = times_.size();
  // At most ~64 checkpoints, at least 4096 events apart, and at most
  // kCheckpointBytes of checkpoint vectors.
  const int64_t max_checkpoints =
      std::max<int64_t>(1, kCheckpointBytes / (4 * std::max<int64_t>(1, num_items)));
  int64_t every = checkpoint_every > 0
                      ? checkpoint_every
                      : std::max<int64_t>({4096, static_cast<int64_t>(n / 64),
                                           static_cast<int64_t>(n / max_checkpoints) + 1});
  checkpoint_every_ = static_cast<int32_t>(std::min<int64_t>(every, INT32_MAX));
  // Checkpoint j = checkpoint j-1 decayed to T_j plus the interval's events,
  // each decayed to T_j: O(num_items) per checkpoint and O(1) per event.
  std::vector<double> acc(num_items, 0.0);
  int64_t acc_time = times_.empty() ? 0 : times_.front();
  const double rate = std::log(2.0) / half_life_s_;
  std::vector<ItemIndex> nonzero;
  for (size_t start = 0; start + checkpoint_every_ <= n; start += checkpoint_every_) {
    const size_t end = start + checkpoint_every_;
    const int64_t t_j = times_[end - 1];
    const double decay = std::exp(-rate * static_cast<double>(t_j - acc_time));
    for (double& v : acc) v *= decay;
    for (size_t i = start; i < end; ++i) {
      acc[items_[i]] += std::exp(-rate * static_cast<double>(t_j - times_[i]));
    }
    acc_time = t_j;
    checkpoint_time_.push_back(t_j);
    const std::vector<float>& cp = checkpoint_scores_.emplace_back(acc.begin(), acc.end());
    // The checkpoint's best `candidates_` items (any order).
    nonzero.clear();
    for (ItemIndex i = 0; i < num_items; ++i) {
      if (cp[i] > 0.0f) nonzero.push_back(i);
    }
    const bool partial = nonzero.size() > static_cast<size_t>(candidates_);
    if (partial) {
      std::nth_element(nonzero.begin(), nonzero.begin() + candidates_, nonzero.end(),
                       [&cp](ItemIndex a, ItemIndex b) { return cp[a] > cp[b]; });
      nonzero.resize(candidates_);
    }
    checkpoint_best_.push_back(nonzero);
    checkpoint_best_partial_.push_back(partial ? 1 : 0);
  }
  ScoresAsOf(latest_time(), &now_scores_);
  now_order_.resize(num_items);
  std::iota(now_order_.begin(), now_order_.end(), 0);
  std::sort(now_order_.begin(), now_order_.end(), [this](ItemIndex a, ItemIndex b) {
    return RanksBefore(ScoredIndex{a, now_scores_[a]}, ScoredIndex{b, now_scores_[b]});
  });
}

void TrendingModel::ScoresAsOf(int64_t as_of_s, std::vector<float>* scores) const {
  scores->assign(num_items_, 0.0f);
  const size_t end = EventsBefore(times_, as_of_s);  // events strictly before as_of_s
  const size_t full = end / checkpoint_every_;       // checkpoints fully before `end`
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
    (*scores)[items_[i]] +=
        static_cast<float>(std::exp(-rate * static_cast<double>(as_of_s - times_[i])));
  }
}

TrendingAsOf::TrendingAsOf(const TrendingModel& model, int64_t as_of_s, int64_t sparse_tail_max)
    : model_(&model), as_of_s_(as_of_s), now_(as_of_s == model.latest_time()) {
  if (now_) return;
  if (sparse_tail_max < 0) sparse_tail_max = model.num_items_ / 16;
  // ScoresAsOf's arithmetic, restricted to the items the tail touches: the
  // checkpoint's score decayed, then each later event added in time order.
  const size_t end = EventsBefore(model.times_, as_of_s);
  const size_t full = end / model.checkpoint_every_;
  const double rate = std::log(2.0) / model.half_life_s_;
  size_t start = 0;
  if (full > 0) {
    checkpoint_ = static_cast<int32_t>(full - 1);
    decay_ = std::exp(-rate * static_cast<double>(as_of_s - model.checkpoint_time_[checkpoint_]));
    start = full * model.checkpoint_every_;
  }
  if (static_cast<int64_t>(end - start) > sparse_tail_max) {
    model.ScoresAsOf(as_of_s, &dense_);
    return;
  }
  tail_.Reset(std::min<size_t>(end - start, static_cast<size_t>(model.num_items_)) / 4);
  for (size_t i = start; i < end; ++i) {
    const ItemIndex item = model.items_[i];
    tail_.Add(item,
              static_cast<float>(std::exp(-rate * static_cast<double>(as_of_s - model.times_[i]))),
              [&] { return checkpoint_ < 0 ? 0.0f : CheckpointScore(item); });
  }
  tail_.Finish();
}

std::vector<ScoredIndex> TrendingAsOf::PastCandidates() const {
  std::vector<ScoredIndex> out;
  out.reserve(tail_.size() + (checkpoint_ >= 0 ? model_->checkpoint_best_[checkpoint_].size() : 0));
  for (size_t k = 0; k < tail_.size(); ++k) {
    out.push_back(ScoredIndex{tail_.items()[k], tail_.scores()[k]});
  }
  if (checkpoint_ >= 0) {
    for (ItemIndex item : model_->checkpoint_best_[checkpoint_]) {
      if (tail_.Find(item) == nullptr) out.push_back(ScoredIndex{item, CheckpointScore(item)});
    }
  }
  return out;
}

float TrendingAsOf::UnlistedBound() const {
  if (checkpoint_ < 0 || !model_->checkpoint_best_partial_[checkpoint_]) return 0.0f;
  // An unlisted item's checkpoint score is at most the smallest listed one,
  // and CheckpointScore is monotone in it.
  float lowest = INFINITY;
  const std::vector<float>& cp = model_->checkpoint_scores_[checkpoint_];
  for (ItemIndex item : model_->checkpoint_best_[checkpoint_]) lowest = std::min(lowest, cp[item]);
  return static_cast<float>(lowest * decay_);
}

std::vector<float> PopularityCounts(std::span<const Interaction> events, int32_t num_items) {
  std::vector<float> counts(num_items, 0.0f);
  for (const Interaction& e : events) counts[e.item] += 1.0f;
  return counts;
}

}  // namespace recsys
