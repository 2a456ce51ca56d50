// Text output of the registry CLI (recsys-registry): the version list, the
// side-by-side comparison of two versions and the gc summary. Pure functions
// of registry data; the registry itself prints nothing.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/bundle/registry.h"
#include "common/eval/case_results.h"
#include "recsys/v1/manifest.pb.h"

namespace recsys::offline {

// Columns padded to their widest cell, separated by two spaces, trailing
// blanks trimmed; one '\n'-terminated line per row.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows);

// `list`: one line per version (sorted as given) with kind, creation time and
// test two_stage NDCG@10; '*' marks `production` ("" = none). An empty list
// says so, naming `model_dir`.
std::string FormatVersionList(const std::vector<v1::BundleManifest>& versions,
                              const std::string& production, const std::string& model_dir);

// `compare`: scalar fields and parameters of A and B (differences marked
// '*'), then every leaderboard row with A, B and B-A. `name` is the model
// family, `a` / `b` the version ids shown in the title.
std::string FormatComparison(const std::string& name, const std::string& a, const std::string& b,
                             const v1::BundleManifest& ma, const v1::BundleManifest& mb);

// One side's per-case results for the paired table: the results, or why
// there are none.
struct ComparisonCases {
  const CaseResults* results = nullptr;
  std::string missing;  // when results is null: e.g. "its manifest lists no leaderboard.cases"
};

// The rows the paired table compares: test and validation `two_stage` (the
// final, served list, whose order the manifest's `ranker.final` describes).
std::vector<std::pair<std::string, std::string>> PairedComparisonRows();

// `compare`'s paired table: for each PairedComparisonRows() row (at the gate's
// k), NDCG and recall of A and B, B − A with its 95% interval, the verdict
// ("better" / "worse" / "no significant difference") and whether the cases
// were paired (with the number matched) or not (intervals combined). A row
// without per-case results on a side says so instead.
std::string FormatPairedComparison(const v1::BundleManifest& ma, const v1::BundleManifest& mb,
                                   const ComparisonCases& ca, const ComparisonCases& cb);

// FormatComparison of two versions of `reg`, each read from its last run
// record, else its manifest, followed by FormatPairedComparison over the
// versions' per-case results (read from their bundle directories, checked
// against their manifests). NotFound if a version has neither a run record
// nor a manifest.
absl::StatusOr<std::string> CompareVersions(const Registry& reg, const std::string& a,
                                            const std::string& b);

// `gc`: one line per removed version or staging directory, then a summary.
std::string FormatGcResult(const Registry::GcResult& result, bool dry_run);

}  // namespace recsys::offline
