// Time-decayed popularity ("trending") computable as of any time.
//
// score_i(t) = sum over events e of item i with t_e < t of 2^(-(t - t_e) / half_life)
//
// Only events strictly before t count, so an evaluation case asked "as of" its
// held-out event's time never sees that event or anything later.
//
// Construction keeps the events sorted by time plus checkpoints (a decayed
// per-item vector every `checkpoint_every` events). ScoresAsOf, the dense
// reference, costs O(num_items + checkpoint_every). Requests use TrendingAsOf
// instead, which gives the same scores bit for bit without touching every item:
//   * "now" (as of latest_time()): scores and the item order by score are
//     precomputed here once (num_items floats + ids);
//   * any other time: the nearest checkpoint before it plus the events since,
//     and for the top-k each checkpoint's `candidates` best items.
// Memory: events * 12 bytes + checkpoints * num_items * 4 (checkpoints are
// spaced so that they take at most kCheckpointBytes) + num_items * 8 ("now")
// + checkpoints * candidates * 4. At 5e7 events and 1e6 items: ~0.87 GB.
// Immutable after construction; const methods are safe to call concurrently.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/data/dataset.h"
#include "common/models/item_votes.h"
#include "common/topk.h"

namespace recsys {

class TrendingModel {
 public:
  // Upper bound on the memory of the checkpoint vectors, in bytes.
  static constexpr int64_t kCheckpointBytes = int64_t{256} << 20;
  // Default number of best items listed per checkpoint (see TrendingAsOf::Top).
  static constexpr int32_t kDefaultCandidates = 2000;

  TrendingModel() = default;
  // `events` in any order (stable-sorted by time here); half_life_s > 0;
  // `checkpoint_every` 0 = automatic (>= 4096 events, at most 64 checkpoints,
  // at most kCheckpointBytes); `candidates` > 0.
  TrendingModel(std::span<const Interaction> events, int32_t num_items, double half_life_s,
                int32_t checkpoint_every = 0, int32_t candidates = kDefaultCandidates);

  // Dense scores as of `as_of_s` (Unix seconds); size num_items. The
  // reference every other form equals bit for bit.
  void ScoresAsOf(int64_t as_of_s, std::vector<float>* scores) const;
  // As of just after the last event (serving "now": decay is uniform, so the
  // order equals the order at any later time).
  int64_t latest_time() const { return times_.empty() ? 0 : times_.back() + 1; }
  // ScoresAsOf(latest_time()), and every item in RanksBefore order of it
  // (score descending, then smaller id first). Size num_items each.
  std::span<const float> now_scores() const { return now_scores_; }
  std::span<const ItemIndex> now_order() const { return now_order_; }

  double half_life_s() const { return half_life_s_; }
  int32_t num_items() const { return num_items_; }
  int32_t checkpoint_every() const { return checkpoint_every_; }
  int32_t candidates() const { return candidates_; }
  // The events sorted by time (stable), as two parallel arrays.
  std::span<const int64_t> event_times() const { return times_; }
  std::span<const ItemIndex> event_items() const { return items_; }

 private:
  friend class TrendingAsOf;

  double half_life_s_ = 0;
  int32_t num_items_ = 0;
  int32_t checkpoint_every_ = 1;
  int32_t candidates_ = kDefaultCandidates;
  std::vector<int64_t> times_;    // sorted, stable
  std::vector<ItemIndex> items_;  // parallel to times_
  // Checkpoint j covers events [0, (j+1) * checkpoint_every), decayed to the
  // time of the last event it covers.
  std::vector<int64_t> checkpoint_time_;
  std::vector<std::vector<float>> checkpoint_scores_;
  // Per checkpoint: its best min(candidates, nonzero) items by checkpoint
  // score, and whether items outside the list have non-zero scores (then the
  // smallest listed score bounds theirs).
  std::vector<std::vector<ItemIndex>> checkpoint_best_;
  std::vector<uint8_t> checkpoint_best_partial_;
  std::vector<float> now_scores_;
  std::vector<ItemIndex> now_order_;
};

// Trending scores as of one time, for one request: built once, then O(1) per
// item. Equal bit for bit to TrendingModel::ScoresAsOf(as_of_s).
// Cost to build: O(1) when as_of_s == model.latest_time() (the precomputed
// "now"); otherwise O(tail) with tail = events since the checkpoint before
// as_of_s (at most model.checkpoint_every()) when tail <= sparse_tail_max, and
// the dense reference, O(num_items + tail), when the tail is longer: each tail
// item costs a random read of the checkpoint vector (a cache miss at 1M items),
// so a long tail is cheaper streamed (docs/benchmarks.md). Holds a pointer to
// `model`, which must outlive it.
// Const methods are safe to call concurrently.
class TrendingAsOf {
 public:
  TrendingAsOf() = default;  // no model: every score 0, Top empty
  // sparse_tail_max < 0: num_items / 16.
  TrendingAsOf(const TrendingModel& model, int64_t as_of_s, int64_t sparse_tail_max = -1);

  int64_t as_of_s() const { return as_of_s_; }
  bool is_now() const { return now_; }

  float score(ItemIndex item) const {
    if (model_ == nullptr || item < 0 || item >= model_->num_items_) return 0.0f;
    if (now_) return model_->now_scores_[item];
    if (!dense_.empty()) return dense_[item];
    return PastScore(item);
  }

  // The best k items not skipped (skip(item) true), in RanksBefore order with
  // their scores: equal to TopKDense(ScoresAsOf(as_of_s), k, skip).
  //   now: walks the precomputed order, O(k + skipped items met on the way);
  //   other times: re-scores the checkpoint's best `candidates` items and the
  //     items with events since the checkpoint, O(candidates + tail); when
  //     that cannot prove the answer (the k-th score is not above what any
  //     unlisted item can reach, e.g. most listed items are skipped), it falls
  //     back to the dense reference, O(num_items + checkpoint_every), and sets
  //     *dense_fallback (if given) to true.
  template <typename SkipFn>
  std::vector<ScoredIndex> Top(int k, SkipFn&& skip, bool* dense_fallback = nullptr) const;

 private:
  float PastScore(ItemIndex item) const {
    const float* tail = tail_.Find(item);
    if (tail != nullptr) return *tail;
    return checkpoint_ < 0 ? 0.0f : CheckpointScore(item);
  }
  float CheckpointScore(ItemIndex item) const {
    return static_cast<float>(model_->checkpoint_scores_[checkpoint_][item] * decay_);
  }
  // Candidates scored exactly: the checkpoint's listed items and the tail's.
  std::vector<ScoredIndex> PastCandidates() const;
  // Every unlisted item without tail events scores at most this.
  float UnlistedBound() const;

  const TrendingModel* model_ = nullptr;
  int64_t as_of_s_ = 0;
  bool now_ = false;
  int32_t checkpoint_ = -1;  // the checkpoint before as_of_s, -1 if none
  double decay_ = 0;         // from the checkpoint's time to as_of_s
  // Exact scores of the items with events between the checkpoint and as_of_s.
  ItemVotes tail_;
  // The dense reference scores instead, when the tail is long (size num_items).
  std::vector<float> dense_;
};

template <typename SkipFn>
std::vector<ScoredIndex> TrendingAsOf::Top(int k, SkipFn&& skip, bool* dense_fallback) const {
  std::vector<ScoredIndex> out;
  if (model_ == nullptr || k <= 0) return out;
  if (now_) {
    for (ItemIndex i : model_->now_order_) {
      if (static_cast<int>(out.size()) >= k) break;
      if (!skip(i)) out.push_back(ScoredIndex{i, model_->now_scores_[i]});
    }
    return out;
  }
  if (!dense_.empty()) return TopKDense(dense_, k, skip);
  const float bound = UnlistedBound();
  for (const ScoredIndex& c : PastCandidates()) {
    if (c.score > bound && !skip(c.item)) out.push_back(c);
  }
  SortAndTruncate(&out, k);
  if (static_cast<int>(out.size()) >= k) return out;
  if (bound == 0.0f) {
    // Every item not in `out` that is not skipped scores exactly 0 (scores
    // are >= 0): they follow by ascending id.
    for (ItemIndex i = 0; i < model_->num_items_ && static_cast<int>(out.size()) < k; ++i) {
      if (PastScore(i) == 0.0f && !skip(i)) out.push_back(ScoredIndex{i, 0.0f});
    }
    return out;
  }
  if (dense_fallback != nullptr) *dense_fallback = true;
  std::vector<float> dense;
  model_->ScoresAsOf(as_of_s_, &dense);
  return TopKDense(dense, k, skip);
}

// Plain interaction counts per item (the Popularity baseline).
std::vector<float> PopularityCounts(std::span<const Interaction> events, int32_t num_items);

}  // namespace recsys
