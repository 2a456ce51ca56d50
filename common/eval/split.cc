#include "common/eval/split.h"

#include <algorithm>
#include <numeric>

namespace recsys {
namespace {

// splitmix64: a well-mixed 64-bit hash (users' sampling order).
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Indices of the `max` smallest keys of `keys` (all when fewer), ascending.
std::vector<size_t> SmallestKeys(const std::vector<uint64_t>& keys, int64_t max) {
  std::vector<size_t> idx(keys.size());
  std::iota(idx.begin(), idx.end(), size_t{0});
  if (max > 0 && static_cast<size_t>(max) < idx.size()) {
    std::nth_element(idx.begin(), idx.begin() + max, idx.end(), [&](size_t a, size_t b) {
      return keys[a] != keys[b] ? keys[a] < keys[b] : a < b;
    });
    idx.resize(static_cast<size_t>(max));
    std::sort(idx.begin(), idx.end());
  }
  return idx;
}

}  // namespace

const char* SplitNameString(SplitName s) {
  return s == SplitName::kValidation ? "validation" : "test";
}

LeaveLastOutSplit::LeaveLastOutSplit(const Dataset& data, const SplitOptions& options) {
  const auto& all = data.interactions;
  const int32_t users = data.num_users();
  // Counting sort by user keeps file order within a user; the stable sort by
  // time then gives each user's events in (time, file position) order.
  offsets_.assign(static_cast<size_t>(users) + 1, 0);
  for (const Interaction& e : all) ++offsets_[e.user + 1];
  for (int32_t u = 0; u < users; ++u) offsets_[u + 1] += offsets_[u];
  std::vector<int64_t> position(all.size());  // file position of events_[i]
  {
    std::vector<int64_t> next(offsets_.begin(), offsets_.end() - 1);
    for (int64_t i = 0; i < static_cast<int64_t>(all.size()); ++i) {
      position[next[all[i].user]++] = i;
    }
  }
  for (int32_t u = 0; u < users; ++u) {
    std::stable_sort(position.begin() + offsets_[u], position.begin() + offsets_[u + 1],
                     [&](int64_t a, int64_t b) { return all[a].timestamp_s < all[b].timestamp_s; });
  }
  events_.resize(all.size());
  for (size_t i = 0; i < all.size(); ++i) events_[i] = all[position[i]];

  // Held-out events (each eligible user's last two) marked by file position.
  std::vector<uint8_t> held(all.size(), 0);
  std::vector<UserIndex> eligible;
  for (int32_t u = 0; u < users; ++u) {
    const int64_t n = offsets_[u + 1] - offsets_[u];
    if (n < 3) continue;
    eligible.push_back(u);
    held[position[offsets_[u + 1] - 1]] = 1;
    held[position[offsets_[u + 1] - 2]] = 1;
  }
  position = {};
  eligible_users_ = static_cast<int64_t>(eligible.size());
  std::vector<uint64_t> keys(eligible.size());
  for (size_t i = 0; i < eligible.size(); ++i) {
    keys[i] = Mix(options.seed ^ Mix(static_cast<uint64_t>(eligible[i])));
  }
  for (size_t i : SmallestKeys(keys, options.max_eval_users)) {
    const UserIndex u = eligible[i];
    const int32_t n = static_cast<int32_t>(offsets_[u + 1] - offsets_[u]);
    validation_.push_back(EvalCase{u, n - 2});
    test_.push_back(EvalCase{u, n - 1});
  }
  if (static_cast<int64_t>(test_.size()) < eligible_users_) {
    // Sampled: keep only the evaluated users' events (others read as empty).
    std::vector<int64_t> kept_offsets(offsets_.size(), 0);
    std::vector<Interaction> kept;
    size_t c = 0;
    for (int32_t u = 0; u < users; ++u) {
      if (c < test_.size() && test_[c].user == u) {
        kept.insert(kept.end(), events_.begin() + offsets_[u], events_.begin() + offsets_[u + 1]);
        ++c;
      }
      kept_offsets[u + 1] = static_cast<int64_t>(kept.size());
    }
    events_ = std::move(kept);
    offsets_ = std::move(kept_offsets);
  }
  train_.reserve(all.size() - 2 * eligible.size());
  for (size_t i = 0; i < all.size(); ++i) {
    if (!held[i]) train_.push_back(all[i]);
  }
}

std::vector<size_t> SampleCaseIndices(std::span<const EvalCase> cases, int64_t max,
                                      uint64_t seed) {
  std::vector<uint64_t> keys(cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    keys[i] = Mix(seed ^ Mix(static_cast<uint64_t>(cases[i].user) + 0x51a7));
  }
  return SmallestKeys(keys, max);
}

std::vector<EvalCase> SampleCases(std::span<const EvalCase> cases, int64_t max, uint64_t seed) {
  std::vector<EvalCase> out;
  for (size_t i : SampleCaseIndices(cases, max, seed)) out.push_back(cases[i]);
  return out;
}

}  // namespace recsys
