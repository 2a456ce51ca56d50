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
#include "common/bundle/promotion_gate.h"
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
      // Per-case results (read here, under the lock, because which version is
      // production is only known here; they are a few MB).
      auto side = [this](const std::string& v, const v1::BundleManifest& m,
                         std::optional<CaseResults>* storage) {
        GateSide s{v, &m, nullptr, ""};
        absl::StatusOr<std::optional<CaseResults>> read = ReadBundleCaseResults(VersionDir(v), m);
        if (!read.ok()) {
          LOG(WARNING) << "registry: " << read.status().message();
          s.no_cases_reason = std::string(read.status().message());
        } else if (!read->has_value()) {
          s.no_cases_reason = absl::StrCat("its manifest lists no ", kCaseResultsFileName);
        } else {
          *storage = std::move(*read);
          s.cases = &**storage;
        }
        return s;
      };
      std::optional<CaseResults> cand_cases, prod_cases;
      const GateDecision decision =
          DecidePromotion(side(version, candidate, &cand_cases), side(*current, *prod, &prod_cases));
      if (!decision.allow) return absl::FailedPreconditionError(decision.message);
      LOG(INFO) << "registry: " << decision.message;
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
