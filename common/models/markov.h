// The sequence source's model: first-order Markov transitions between
// consecutive events, stored as top-N neighbour lists. Fit only here
// (markov_fit.cc, the fitting library); serving reads the lists directly.
#pragma once

#include <cstdint>
#include <span>

#include "common/data/dataset.h"
#include "common/models/csr.h"

namespace recsys {

// Row i: the items that followed item i, with P(j | i), best first.
using MarkovTransitions = SparseNeighbors;

// First-order Markov transitions between consecutive events of each user
// (events sorted by time): P(j | i) = count(i -> j) / count(i -> *), top-N per
// item. Self-transitions are dropped.
MarkovTransitions FitMarkovTransitions(std::span<const Interaction> events, int32_t num_users,
                                       int32_t num_items, int top_n);

}  // namespace recsys
