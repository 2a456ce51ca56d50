// Promotion policy: the metric gate, moving the production alias, and the
// alias history that rollback walks back through.

#include "common/bundle/registry.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/bundle/registry_internal.h"
#include "common/io/file.h"
#include "common/log.h"
#include "common/status.h"

namespace recsys {
namespace {

using registry_internal::FormatRfc3339;
using registry_internal::kHistoryFile;
using registry_internal::kProductionFile;
using registry_internal::kProductionTmpFile;
using registry_internal::LockModelDir;
using registry_internal::ReadLinesIfExists;
using registry_internal::ValidateVersionName;

}  // namespace

std::optional<double> LeaderboardNdcg(const v1::BundleManifest& manifest,
                                      const std::string& model) {
  for (const v1::LeaderboardRow& row : manifest.leaderboard()) {
    if (row.split() == kGateSplit && row.model() == model && row.k() == kGateK) {
      return row.ndcg();
    }
  }
  return std::nullopt;
}

std::optional<double> BestTestNdcg(const v1::BundleManifest& manifest) {
  std::optional<double> best;
  for (const v1::LeaderboardRow& row : manifest.leaderboard()) {
    if (row.split() == kGateSplit && row.k() == kGateK && (!best || row.ndcg() > *best)) {
      best = row.ndcg();
    }
  }
  return best;
}

absl::StatusOr<v1::BundleManifest> Registry::LoadVerified(const std::string& version) const {
  ASSIGN_OR_RETURN(v1::BundleManifest m, Show(version));
  if (m.version() != version) {
    return absl::DataLossError(absl::StrCat(VersionDir(version), "/", kManifestFileName,
                                            ": manifest is for version '", m.version(), "'"));
  }
  RETURN_IF_ERROR(VerifyBundle(VersionDir(version), m));
  return m;
}

absl::Status Registry::WriteAliasLocked(const std::string& version) const {
  return ReplaceFileDurably(ModelDir() + "/" + kProductionFile, version + "\n",
                            ModelDir() + "/" + kProductionTmpFile);
}

absl::Status Registry::AppendHistoryLocked(const std::string& action,
                                           const std::string& version) const {
  return AppendFileDurably(ModelDir() + "/" + kHistoryFile,
                           absl::StrCat(FormatRfc3339(absl::Now()), "\t", action, "\t", version,
                                        "\n"));
}

absl::Status Registry::Promote(const std::string& version, bool force) const {
  RETURN_IF_ERROR(ValidateModelName(name_));
  RETURN_IF_ERROR(ValidateVersionName(version));
  // Hash outside the lock: versions are immutable, and bundles can be large.
  ASSIGN_OR_RETURN(v1::BundleManifest candidate, LoadVerified(version));
  ASSIGN_OR_RETURN(FileLock lock, LockModelDir(ModelDir()));
  absl::StatusOr<std::string> current = Production();
  if (!current.ok() && !absl::IsNotFound(current.status())) {
    LOG(WARNING) << "registry: " << current.status().message() << "; replacing it";
  }
  if (!force && current.ok() && *current != version) {
    absl::StatusOr<v1::BundleManifest> prod = Show(*current);
    if (!prod.ok()) {
      LOG(WARNING) << "registry: production " << *current
                   << " is unreadable, promoting without the metric gate: "
                   << prod.status().message();
    } else {
      std::optional<double> cand_ndcg = LeaderboardNdcg(candidate, kGateModel);
      std::optional<double> prod_ndcg = LeaderboardNdcg(*prod, kGateModel);
      std::string metric = absl::StrCat(kGateSplit, " ", kGateModel, " NDCG@", kGateK);
      if (!cand_ndcg || !prod_ndcg) {
        cand_ndcg = BestTestNdcg(candidate);
        prod_ndcg = BestTestNdcg(*prod);
        metric = absl::StrCat("best ", kGateSplit, " NDCG@", kGateK, " of any model");
      }
      if (prod_ndcg && !cand_ndcg) {
        return absl::FailedPreconditionError(absl::StrFormat(
            "refusing to promote %s: it has no %s, production %s has %.6f (use --force to "
            "override)",
            version, metric, *current, *prod_ndcg));
      }
      if (prod_ndcg && *cand_ndcg < *prod_ndcg) {
        return absl::FailedPreconditionError(absl::StrFormat(
            "refusing to promote %s: its %s %.6f is lower than production %s's %.6f (use "
            "--force to override)",
            version, metric, *cand_ndcg, *current, *prod_ndcg));
      }
    }
  }
  RETURN_IF_ERROR(WriteAliasLocked(version));
  RETURN_IF_ERROR(AppendHistoryLocked(force ? "promote-forced" : "promote", version));
  LOG(INFO) << "registry: " << name_ << " production "
            << (current.ok() ? *current : std::string("(none)")) << " -> " << version
            << (force ? " (forced)" : "");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> Registry::ProductionStackLocked(
    const std::string& current) const {
  // Replay the history into a stack of productions: promotions push (repeats of
  // the top collapse), rollbacks pop.
  const std::string history_path = ModelDir() + "/" + kHistoryFile;
  ASSIGN_OR_RETURN(std::vector<std::string> lines, ReadLinesIfExists(history_path));
  std::vector<std::string> stack;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::vector<std::string> fields = absl::StrSplit(lines[i], '\t');
    if (fields.size() != 3 || fields[2].empty()) {
      return absl::DataLossError(
          absl::StrCat(history_path, ":", i + 1, ": malformed line '", lines[i], "'"));
    }
    const std::string& action = fields[1];
    const std::string& v = fields[2];
    if (action == "rollback") {
      if (!stack.empty()) stack.pop_back();
      if (stack.empty() || stack.back() != v) stack.push_back(v);
    } else if (absl::StartsWith(action, "promote")) {
      if (stack.empty() || stack.back() != v) stack.push_back(v);
    } else {
      return absl::DataLossError(
          absl::StrCat(history_path, ":", i + 1, ": unknown action '", action, "'"));
    }
  }
  if (stack.empty() || stack.back() != current) stack.push_back(current);
  return stack;
}

absl::StatusOr<std::string> Registry::Rollback() const {
  RETURN_IF_ERROR(ValidateModelName(name_));
  ASSIGN_OR_RETURN(FileLock lock, LockModelDir(ModelDir()));
  absl::StatusOr<std::string> current = Production();
  if (!current.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("nothing to roll back: ", current.status().message()));
  }
  ASSIGN_OR_RETURN(std::vector<std::string> stack, ProductionStackLocked(*current));
  while (!stack.empty() && stack.back() == *current) stack.pop_back();
  if (stack.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no earlier production version of ", name_, " to roll back to (current ", *current, ")"));
  }
  const std::string target = stack.back();
  ASSIGN_OR_RETURN(v1::BundleManifest m, LoadVerified(target));
  RETURN_IF_ERROR(WriteAliasLocked(target));
  RETURN_IF_ERROR(AppendHistoryLocked("rollback", target));
  LOG(INFO) << "registry: " << name_ << " production " << *current << " -> " << target
            << " (rollback)";
  return target;
}

}  // namespace recsys
