// Text output of the registry CLI (recsys-registry): the version list, the
// side-by-side comparison of two versions and the gc summary. Pure functions
// of registry data; the registry itself prints nothing.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/bundle/registry.h"
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

// FormatComparison of two versions of `reg`, each read from its last run
// record, else its manifest. NotFound if a version has neither.
absl::StatusOr<std::string> CompareVersions(const Registry& reg, const std::string& a,
                                            const std::string& b);

// `gc`: one line per removed version or staging directory, then a summary.
std::string FormatGcResult(const Registry::GcResult& result, bool dry_run);

}  // namespace recsys::offline
