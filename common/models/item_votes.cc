#include "common/models/item_votes.h"

#include <algorithm>
#include <bit>

namespace recsys {

void ItemVotes::Allocate(size_t capacity) {
  const size_t cap = std::bit_ceil(std::max<size_t>(capacity, 16));
  slots_.assign(cap, Slot{kEmpty, 0});
  mask_ = static_cast<uint32_t>(cap - 1);
  shift_ = 64 - std::countr_zero(cap);
}

void ItemVotes::Reset(size_t expected_items) {
  items_.clear();
  scores_.clear();
  items_.reserve(expected_items);
  scores_.reserve(expected_items);
  Allocate(2 * expected_items);
}

void ItemVotes::Grow() {
  Allocate(2 * slots_.size());
  for (size_t k = 0; k < items_.size(); ++k) {
    uint32_t s = Home(items_[k]);
    while (slots_[s].key != kEmpty) s = (s + 1) & mask_;
    slots_[s] = Slot{items_[k], static_cast<int32_t>(k)};
  }
}

}  // namespace recsys
