#include "common/eval/split.h"

#include <algorithm>

namespace recsys {

const char* SplitNameString(SplitName s) {
  return s == SplitName::kValidation ? "validation" : "test";
}

LeaveLastOutSplit::LeaveLastOutSplit(const Dataset& data) {
  by_user_.resize(data.num_users());
  for (const Interaction& e : data.interactions) by_user_[e.user].push_back(e);
  for (UserIndex u = 0; u < static_cast<UserIndex>(by_user_.size()); ++u) {
    auto& events = by_user_[u];
    std::stable_sort(events.begin(), events.end(), [](const Interaction& a, const Interaction& b) {
      return a.timestamp_s < b.timestamp_s;
    });
    const int32_t n = static_cast<int32_t>(events.size());
    if (n >= 3) {
      validation_.push_back(EvalCase{u, n - 2});
      test_.push_back(EvalCase{u, n - 1});
    }
  }
  // Training = every event except each user's last two (for users with >= 3),
  // kept in file order: mark the held-out events by their file position.
  std::vector<std::vector<int64_t>> file_positions(by_user_.size());
  for (int64_t i = 0; i < static_cast<int64_t>(data.interactions.size()); ++i) {
    file_positions[data.interactions[i].user].push_back(i);
  }
  std::vector<uint8_t> held(data.interactions.size(), 0);
  for (UserIndex u = 0; u < static_cast<UserIndex>(by_user_.size()); ++u) {
    auto& pos = file_positions[u];
    if (pos.size() < 3) continue;
    // Stable sort of the file positions by timestamp reproduces by_user_ order.
    std::stable_sort(pos.begin(), pos.end(), [&](int64_t a, int64_t b) {
      return data.interactions[a].timestamp_s < data.interactions[b].timestamp_s;
    });
    held[pos[pos.size() - 1]] = 1;
    held[pos[pos.size() - 2]] = 1;
  }
  train_.reserve(data.interactions.size());
  for (size_t i = 0; i < data.interactions.size(); ++i) {
    if (!held[i]) train_.push_back(data.interactions[i]);
  }
}

}  // namespace recsys
