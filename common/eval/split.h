// Leave-last-out split by time.
//
// Each user's events are sorted by timestamp with ties kept in file order
// (stable sort). For a user with >= 3 events the last one is the test target,
// the second-to-last the validation target, and the rest is training data;
// users with fewer than 3 events contribute all their events to training only.
// A validation case's history is the user's training events; a test case's
// history is training + the validation event (it happened before the test
// event), so both see exactly the events that precede their target.
#pragma once

#include <span>
#include <vector>

#include "common/data/dataset.h"

namespace recsys {

enum class SplitName { kValidation, kTest };
const char* SplitNameString(SplitName s);

struct EvalCase {
  UserIndex user;
  int32_t target_pos;  // index into the user's sorted events; history = [0, target_pos)
};

class LeaveLastOutSplit {
 public:
  explicit LeaveLastOutSplit(const Dataset& data);

  // Events not held out (the evaluation bundle is fit on these), in file order.
  const std::vector<Interaction>& train() const { return train_; }
  const std::vector<EvalCase>& cases(SplitName s) const {
    return s == SplitName::kValidation ? validation_ : test_;
  }
  // The user's events sorted by time (stable).
  std::span<const Interaction> user_events(UserIndex u) const { return by_user_[u]; }
  std::span<const Interaction> history(const EvalCase& c) const {
    return std::span<const Interaction>(by_user_[c.user]).first(c.target_pos);
  }
  const Interaction& target(const EvalCase& c) const { return by_user_[c.user][c.target_pos]; }
  int32_t num_users() const { return static_cast<int32_t>(by_user_.size()); }

 private:
  std::vector<std::vector<Interaction>> by_user_;
  std::vector<Interaction> train_;
  std::vector<EvalCase> validation_;
  std::vector<EvalCase> test_;
};

}  // namespace recsys
