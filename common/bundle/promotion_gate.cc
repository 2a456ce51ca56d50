#include "common/bundle/promotion_gate.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/bundle/registry.h"
#include "common/io/file.h"
#include "common/io/sha256.h"
#include "common/status.h"

namespace recsys {
namespace {

std::string Interval(const MetricDifference& d) {
  return absl::StrFormat("%+.4f, 95%% interval [%+.4f, %+.4f]", d.difference, d.low, d.high);
}

// "612 paired cases" / "unpaired cases (610 vs 598, 12 matched: ...)".
std::string CasesPhrase(const RowComparison& c, const std::string& a_name,
                        const std::string& b_name) {
  if (c.paired) return absl::StrCat(c.matched, " paired cases");
  return absl::StrCat("unpaired cases (", b_name, ": ", c.cases_b, ", ", a_name, ": ", c.cases_a,
                      ", ", c.matched,
                      " in common: the evaluated cases differ, so the two intervals are "
                      "combined)");
}

}  // namespace

absl::StatusOr<std::optional<CaseResults>> ReadBundleCaseResults(
    const std::string& bundle_dir, const v1::BundleManifest& manifest) {
  const v1::BundleFile* listed = nullptr;
  for (const v1::BundleFile& f : manifest.files()) {
    if (f.path() == kCaseResultsFileName) listed = &f;
  }
  if (listed == nullptr) return std::optional<CaseResults>();
  const std::string path = bundle_dir + "/" + kCaseResultsFileName;
  absl::StatusOr<std::string> bytes = ReadFile(path);
  if (!bytes.ok()) {
    return absl::DataLossError(
        absl::StrCat(path, ": listed in the manifest but unreadable: ", bytes.status().message()));
  }
  if (static_cast<int64_t>(bytes->size()) != listed->size_bytes()) {
    return absl::DataLossError(absl::StrCat(path, ": size ", bytes->size(),
                                            " bytes, the manifest says ", listed->size_bytes()));
  }
  const std::string sha = Sha256Hex(*bytes);
  if (sha != listed->sha256()) {
    return absl::DataLossError(absl::StrCat(path, ": SHA-256 mismatch (file ", sha, ", manifest ",
                                            listed->sha256(), ")"));
  }
  ASSIGN_OR_RETURN(CaseResults results, ParseCaseResults(*bytes, path));
  return std::optional<CaseResults>(std::move(results));
}

GateDecision DecideByRawDifference(const GateSide& candidate, const GateSide& production,
                                   const std::string& why) {
  const v1::BundleManifest& cand = *candidate.manifest;
  const v1::BundleManifest& prod = *production.manifest;
  std::optional<double> cand_ndcg = LeaderboardNdcg(cand, kGateModel);
  std::optional<double> prod_ndcg = LeaderboardNdcg(prod, kGateModel);
  std::string metric = absl::StrCat(kGateSplit, " ", kGateModel, " NDCG@", kGateK);
  if (!cand_ndcg || !prod_ndcg) {
    cand_ndcg = BestTestNdcg(cand);
    prod_ndcg = BestTestNdcg(prod);
    metric = absl::StrCat("best ", kGateSplit, " NDCG@", kGateK, " of any model");
  }
  const std::string rule = absl::StrCat("raw difference rule: ", why);
  GateDecision d;
  if (prod_ndcg && !cand_ndcg) {
    d.allow = false;
    d.message = absl::StrFormat(
        "refusing to promote %s: it has no %s, production %s has %.6f (%s; use --force to "
        "override)",
        candidate.version, metric, production.version, *prod_ndcg, rule);
  } else if (prod_ndcg && *cand_ndcg < *prod_ndcg) {
    d.allow = false;
    d.message = absl::StrFormat(
        "refusing to promote %s: its %s %.6f is lower than production %s's %.6f (%s; use "
        "--force to override)",
        candidate.version, metric, *cand_ndcg, production.version, *prod_ndcg, rule);
  } else if (prod_ndcg) {
    d.message = absl::StrFormat("gate passed: %s %s %.6f, production %s %.6f (%s)",
                                candidate.version, metric, *cand_ndcg, production.version,
                                *prod_ndcg, rule);
  } else {
    d.message = absl::StrFormat("gate passed: production %s has no %s (%s)", production.version,
                                metric, rule);
  }
  return d;
}

GateDecision DecidePromotion(const GateSide& candidate, const GateSide& production) {
  // The raw rule, and why it applies, when a side has no per-case row.
  auto missing = [](const GateSide& side, const std::string& who) -> std::string {
    if (side.cases == nullptr) {
      return absl::StrCat(who, " ", side.version, " has no per-case results (",
                          side.no_cases_reason.empty() ? "none recorded" : side.no_cases_reason,
                          ")");
    }
    return absl::StrCat(who, " ", side.version, "'s per-case results have no ", kGateSplit, " ",
                        kGateModel, " k=", kGateK, " row");
  };
  const std::optional<CaseRowView> cand_row =
      candidate.cases ? candidate.cases->Find(kGateSplit, kGateModel, kGateK) : std::nullopt;
  const std::optional<CaseRowView> prod_row =
      production.cases ? production.cases->Find(kGateSplit, kGateModel, kGateK) : std::nullopt;
  if (!prod_row) return DecideByRawDifference(candidate, production, missing(production, "production"));
  if (!cand_row) return DecideByRawDifference(candidate, production, missing(candidate, "candidate"));

  GateDecision d;
  d.comparison = CompareRows(*prod_row, *cand_row);
  const RowComparison& c = *d.comparison;
  const std::string metric = absl::StrCat(kGateSplit, " ", kGateModel, " NDCG@", kGateK);
  const std::string figures =
      absl::StrCat("difference ", Interval(c.ndcg), " over ",
                   CasesPhrase(c, production.version, candidate.version));
  if (c.ndcg.verdict() == Verdict::kWorse) {
    d.allow = false;
    d.message = absl::StrFormat(
        "refusing to promote %s: its %s is significantly lower than production %s's (%.6f vs "
        "%.6f): %s (use --force to override)",
        candidate.version, metric, production.version, c.ndcg.mean_b, c.ndcg.mean_a, figures);
  } else {
    d.message = absl::StrFormat("gate passed: %s %s vs production %s: %s (%s)", candidate.version,
                                metric, production.version, figures,
                                VerdictName(c.ndcg.verdict()));
  }
  return d;
}

}  // namespace recsys
