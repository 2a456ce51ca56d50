// Sparse per-request accumulator of item votes (item -> summed float vote):
// an open-addressing hash table of (item, sum) slots (linear probing,
// power-of-two capacity, load <= 1/2, one random access per vote) plus the
// voted items in first-vote order. Memory and time grow with the number of
// votes, never with the catalogue: O(1) expected per Add and Get.
//
// Each item's sum is accumulated in Add order, so it equals, bit for bit, a
// dense vector (or a map) fed the same votes in the same order.
//
// Measured against the alternatives (dense catalogue-sized vector, absl
// flat_hash_map, sort-and-merge of the (item, vote) pairs) by
// BM_Votes in bench/scale_retrieval_bench.cc; figures in docs/benchmarks.md.
//
// Not thread-safe to fill; once filled, const methods may be called from
// several threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/data/dataset.h"

namespace recsys {

class ItemVotes {
 public:
  ItemVotes() = default;

  // Empties the accumulator and sizes its table for about `expected_items`
  // distinct items (a hint: the table grows as needed). Item ids must be >= 0.
  void Reset(size_t expected_items);

  // votes[item] += vote (the first vote for an item appends it to items()).
  void Add(ItemIndex item, float vote) {
    Add(item, vote, [] { return 0.0f; });
  }
  // The same, where an item's sum starts at initial() (called once per item,
  // on its first vote) instead of 0.
  template <typename InitialFn>
  void Add(ItemIndex item, float vote, InitialFn&& initial) {
    if (slots_.empty()) Allocate(0);
    uint32_t s = Home(item);
    while (true) {
      Slot& slot = slots_[s];
      if (slot.key == item) {
        slot.sum += vote;
        return;
      }
      if (slot.key == kEmpty) break;
      s = (s + 1) & mask_;
    }
    slots_[s] = Slot{item, initial() + vote};
    items_.push_back(item);
    if (items_.size() * 2 > slots_.size()) Grow();
  }
  // Fills scores() from the table; call after the last Add.
  void Finish();

  // The summed vote of `item`, 0 when nobody voted for it.
  float Get(ItemIndex item) const {
    const float* sum = Find(item);
    return sum == nullptr ? 0.0f : *sum;
  }
  // The summed vote of `item`, null when nobody voted for it.
  const float* Find(ItemIndex item) const {
    if (slots_.empty()) return nullptr;
    for (uint32_t s = Home(item);; s = (s + 1) & mask_) {
      const Slot& slot = slots_[s];
      if (slot.key == item) return &slot.sum;
      if (slot.key == kEmpty) return nullptr;
    }
  }

  // The voted items, each once, in first-vote order; scores() is parallel to
  // it as of the last Finish() (empty before).
  std::span<const ItemIndex> items() const { return items_; }
  std::span<const float> scores() const { return scores_; }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }

 private:
  static constexpr ItemIndex kEmpty = -1;
  struct Slot {
    ItemIndex key;
    float sum;
  };

  uint32_t Home(ItemIndex item) const {
    // Fibonacci hashing: the high bits of the product spread consecutive ids.
    return static_cast<uint32_t>(
               (static_cast<uint64_t>(static_cast<uint32_t>(item)) * 0x9E3779B97F4A7C15ULL) >>
               shift_) &
           mask_;
  }
  void Grow();  // doubles the table and re-inserts every slot
  void Allocate(size_t capacity);

  std::vector<Slot> slots_;
  uint32_t mask_ = 0;
  int shift_ = 64;
  std::vector<ItemIndex> items_;
  std::vector<float> scores_;
};

}  // namespace recsys
