#include "common/models/item_votes.h"

#include <algorithm>
#include <bit>

namespace recsys {

void ItemVotes::Allocate(size_t capacity) {
  const size_t cap = std::bit_ceil(std::max<size_t>(capacity, 16));
  slots_.assign(cap, Slot{kEmpty, 0.0f});
  mask_ = static_cast<uint32_t>(cap - 1);
  shift_ = 64 - std::countr_zero(cap);
}

void ItemVotes::Reset(size_t expected_items) {
  items_.clear();
  scores_.clear();
  items_.reserve(expected_items);
  Allocate(2 * expected_items);
}

void ItemVotes::Grow() {
  std::vector<Slot> old;
  old.swap(slots_);
  Allocate(2 * old.size());
  for (const Slot& slot : old) {
    if (slot.key == kEmpty) continue;
    uint32_t s = Home(slot.key);
    while (slots_[s].key != kEmpty) s = (s + 1) & mask_;
    slots_[s] = slot;
  }
}

void ItemVotes::Finish() {
  scores_.resize(items_.size());
  for (size_t k = 0; k < items_.size(); ++k) scores_[k] = Get(items_[k]);
}

}  // namespace recsys
