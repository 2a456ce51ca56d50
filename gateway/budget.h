// The latency budget: the deadlines of one gateway call, fixed when it
// arrives. Pure functions of times, so they are tested without clocks.
//
// Recommend (two stages):
//   overall   = min(caller's deadline, now + max_deadline), or now + default
//   m         = min(margin, max_margin_share * (overall - now)), never < 0
//   retrieval = now + retrieval_share * (overall - m - now)
//   ranking   = overall - m          (ranking gets whatever retrieval left)
// Search and SimilarItems (one pass-through call to retrieval, nothing held
// back for ranking):
//   lookup    = max(now, overall - m)
// The margin is kept for the gateway's own work (fallback, response assembly,
// the answer's way back), so the answer leaves before the caller's deadline
// even on the degraded path. It is proportional for small budgets: with the
// defaults (8 ms, 25 %) a budget under 32 ms keeps a quarter of itself, so a
// 3-12 ms deadline still gets retrieval (and ranking from about 4 ms) instead
// of always falling back to trending.
#pragma once

#include <optional>

#include "absl/time/time.h"

namespace recsys::gateway {

struct BudgetOptions {
  absl::Duration default_deadline = absl::Milliseconds(50);  // caller set none
  absl::Duration max_deadline = absl::Seconds(30);           // caps huge deadlines
  double retrieval_share = 0.6;                              // of the usable time
  absl::Duration margin = absl::Milliseconds(8);             // gateway's own work, at most
  // The margin never exceeds this share of the call's whole budget (0..1).
  double max_margin_share = 0.25;
  // Below this much time left, ranking is skipped (retrieval order is served).
  absl::Duration min_ranking_time = absl::Milliseconds(1);
};

struct StageDeadlines {
  absl::Time overall;
  absl::Time retrieval;
  absl::Time ranking;
};

// The caller's deadline as gRPC reports it (`raw`), or nullopt when the caller
// sent none: gRPC then reports an "infinite" time, so anything more than a
// year after `now` counts as none.
std::optional<absl::Time> CallerDeadline(absl::Time raw, absl::Time now);

// `caller_deadline` is nullopt when the caller sent no deadline.
StageDeadlines PlanBudget(absl::Time now, std::optional<absl::Time> caller_deadline,
                          const BudgetOptions& options);

// The margin held back from a call whose budget is `budget` (overall - now):
// min(options.margin, max_margin_share * budget), zero for a spent budget.
absl::Duration EffectiveMargin(absl::Duration budget, const BudgetOptions& options);

// Whether ranking is still worth starting at `now`.
bool RankingWorthStarting(absl::Time now, const StageDeadlines& d, const BudgetOptions& options);

// The deadline of a Search or SimilarItems call's one downstream call (see
// above): never before `now`, so a spent budget fails at once downstream
// (DEADLINE_EXCEEDED) rather than never.
absl::Time PlanLookupDeadline(absl::Time now, std::optional<absl::Time> caller_deadline,
                              const BudgetOptions& options);

}  // namespace recsys::gateway
