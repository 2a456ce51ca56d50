#include "gateway/budget.h"

#include <algorithm>

namespace recsys::gateway {
namespace {

absl::Time Overall(absl::Time now, std::optional<absl::Time> caller_deadline,
                   const BudgetOptions& options) {
  return caller_deadline ? std::min(*caller_deadline, now + options.max_deadline)
                         : now + options.default_deadline;
}

}  // namespace

std::optional<absl::Time> CallerDeadline(absl::Time raw, absl::Time now) {
  if (raw > now + absl::Hours(24 * 365)) return std::nullopt;
  return raw;
}

absl::Duration EffectiveMargin(absl::Duration budget, const BudgetOptions& options) {
  if (budget <= absl::ZeroDuration()) return absl::ZeroDuration();
  const double share = std::clamp(options.max_margin_share, 0.0, 1.0);
  return std::clamp(budget * share, absl::ZeroDuration(),
                    std::max(absl::ZeroDuration(), options.margin));
}

StageDeadlines PlanBudget(absl::Time now, std::optional<absl::Time> caller_deadline,
                          const BudgetOptions& options) {
  StageDeadlines d;
  d.overall = Overall(now, caller_deadline, options);
  const absl::Duration margin = EffectiveMargin(d.overall - now, options);
  const absl::Duration usable = std::max(absl::ZeroDuration(), d.overall - margin - now);
  const double share = std::clamp(options.retrieval_share, 0.0, 1.0);
  d.retrieval = now + usable * share;
  d.ranking = std::max(d.retrieval, d.overall - margin);
  return d;
}

bool RankingWorthStarting(absl::Time now, const StageDeadlines& d, const BudgetOptions& options) {
  return d.ranking - now >= options.min_ranking_time;
}

absl::Time PlanLookupDeadline(absl::Time now, std::optional<absl::Time> caller_deadline,
                              const BudgetOptions& options) {
  const absl::Time overall = Overall(now, caller_deadline, options);
  return std::max(now, overall - EffectiveMargin(overall - now, options));
}

}  // namespace recsys::gateway
