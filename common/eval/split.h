// Leave-last-out split by time.
//
// Each user's events are sorted by timestamp with ties kept in file order
// (stable sort). For a user with >= 3 events the last one is the test target,
// the second-to-last the validation target, and the rest is training data;
// users with fewer than 3 events contribute all their events to training only.
// A validation case's history is the user's training events; a test case's
// history is training + the validation event (it happened before the test
// event), so both see exactly the events that precede their target.
//
// Large data: the evaluation may run on a sample of the evaluation users
// (`max_eval_users`); every user's last two events are held out of training
// either way, so the sampled metrics estimate the full ones without bias.
// Memory: the training copy of the events plus the evaluated users' events
// (all events when not sampled), and 8 bytes per event while sorting; no
// per-user allocations.
#pragma once

#include <cstdint>
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

struct SplitOptions {
  // Evaluate at most this many users (a deterministic uniform sample, the same
  // users in validation and test); 0 = every user with >= 3 events.
  int64_t max_eval_users = 0;
  uint64_t seed = 42;
};

class LeaveLastOutSplit {
 public:
  explicit LeaveLastOutSplit(const Dataset& data, const SplitOptions& options = {});

  // Events not held out (the evaluation bundle is fit on these), in file order.
  const std::vector<Interaction>& train() const { return train_; }
  // Cases in user order (sampled users only, when sampled).
  const std::vector<EvalCase>& cases(SplitName s) const {
    return s == SplitName::kValidation ? validation_ : test_;
  }
  // Users with >= 3 events, whether or not sampled.
  int64_t eligible_users() const { return eligible_users_; }
  bool sampled() const { return static_cast<int64_t>(test_.size()) < eligible_users_; }
  // The user's events sorted by time (stable); empty for users left out of a
  // sample (only the evaluated users' events are kept then).
  std::span<const Interaction> user_events(UserIndex u) const {
    return {events_.data() + offsets_[u], static_cast<size_t>(offsets_[u + 1] - offsets_[u])};
  }
  std::span<const Interaction> history(const EvalCase& c) const {
    return user_events(c.user).first(c.target_pos);
  }
  const Interaction& target(const EvalCase& c) const { return user_events(c.user)[c.target_pos]; }
  int32_t num_users() const { return static_cast<int32_t>(offsets_.size()) - 1; }

 private:
  std::vector<int64_t> offsets_;  // num_users + 1
  std::vector<Interaction> events_;  // grouped by user, each user's sorted by time
  std::vector<Interaction> train_;
  std::vector<EvalCase> validation_;
  std::vector<EvalCase> test_;
  int64_t eligible_users_ = 0;
};

// A deterministic uniform subset of `cases` of at most `max` cases (all of
// them when there are fewer), in the original order: the cases whose user
// hashes smallest under `seed`.
std::vector<EvalCase> SampleCases(std::span<const EvalCase> cases, int64_t max, uint64_t seed);
// The same sample as positions into `cases`, ascending.
std::vector<size_t> SampleCaseIndices(std::span<const EvalCase> cases, int64_t max,
                                      uint64_t seed);

}  // namespace recsys
