#include "gateway/budget.h"

#include <algorithm>

namespace recsys::gateway {

StageDeadlines PlanBudget(absl::Time now, std::optional<absl::Time> caller_deadline,
                          const BudgetOptions& options) {
  StageDeadlines d;
  d.overall = caller_deadline ? std::min(*caller_deadline, now + options.max_deadline)
                              : now + options.default_deadline;
  const absl::Duration usable = std::max(absl::ZeroDuration(), d.overall - options.margin - now);
  const double share = std::clamp(options.retrieval_share, 0.0, 1.0);
  d.retrieval = now + usable * share;
  d.ranking = std::max(d.retrieval, d.overall - options.margin);
  return d;
}

bool RankingWorthStarting(absl::Time now, const StageDeadlines& d, const BudgetOptions& options) {
  return d.ranking - now >= options.min_ranking_time;
}

}  // namespace recsys::gateway
