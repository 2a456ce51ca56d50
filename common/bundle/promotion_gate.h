// The promotion gate's decision and the per-case results it reads from the
// bundles (common/eval/case_results.h).
//
// Rule: the candidate is refused only when its test two_stage NDCG@10 is
// significantly lower than production's: the 95% interval of the paired
// difference (candidate − production, over the cases both evaluated) lies
// entirely below zero (unpaired, with the two intervals combined, when the
// evaluated cases differ). A difference whose interval contains zero is noise
// and is allowed. When either bundle has no per-case results (bundles written
// before they were recorded) or lacks the row, the earlier raw rule applies:
// refused when the candidate's figure is lower at all (registry.h, Promote),
// and the message says which rule decided.
//
// Pure functions of their inputs except ReadBundleCaseResults (reads a file).
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/eval/case_results.h"
#include "common/eval/paired_comparison.h"
#include "recsys/v1/manifest.pb.h"

namespace recsys {

// A bundle's per-case results: nullopt when its manifest lists no
// kCaseResultsFileName (an older bundle). When listed, the file must have the
// listed size and SHA-256 and parse; otherwise DataLoss naming the file.
absl::StatusOr<std::optional<CaseResults>> ReadBundleCaseResults(
    const std::string& bundle_dir, const v1::BundleManifest& manifest);

// One side of a promotion decision.
struct GateSide {
  std::string version;
  const v1::BundleManifest* manifest = nullptr;  // required
  // Its per-case results, or nullptr with `no_cases_reason` saying why
  // ("no per-case results", or the read error).
  const CaseResults* cases = nullptr;
  std::string no_cases_reason;
};

struct GateDecision {
  bool allow = true;
  // Which rule decided and on what figures; on refusal, the error message
  // ("refusing to promote V: ... (use --force to override)").
  std::string message;
  // Set when the paired (or unpaired) comparison decided.
  std::optional<RowComparison> comparison;
};

// Decides whether `candidate` may replace `production` (which is not the same
// version; --force is the caller's business).
GateDecision DecidePromotion(const GateSide& candidate, const GateSide& production);

// The raw rule alone, as Promote applied it before per-case results existed:
// test two_stage NDCG@10 (else the best test NDCG@10 of any model) lower than
// production's, or missing while production has one, is refused. `why`
// names the reason the raw rule applies; it goes into the message.
GateDecision DecideByRawDifference(const GateSide& candidate, const GateSide& production,
                                   const std::string& why);

}  // namespace recsys
