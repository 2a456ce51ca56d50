// Garbage collection policy: which versions and staging directories to delete.

#include "common/bundle/registry.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/bundle/registry_internal.h"
#include "common/log.h"
#include "common/status.h"

namespace recsys {
namespace {

namespace fs = std::filesystem;
using registry_internal::kStagingPrefix;
using registry_internal::kTrashPrefix;
using registry_internal::LockModelDir;

uint64_t TreeBytes(const fs::path& dir) {
  uint64_t bytes = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) bytes += it->file_size(ec);
  }
  return bytes;
}

}  // namespace

absl::StatusOr<Registry::GcResult> Registry::Gc(int keep, absl::Duration staging_age,
                                                bool dry_run) const {
  RETURN_IF_ERROR(ValidateModelName(name_));
  if (keep < 1) return absl::InvalidArgumentError(absl::StrCat("gc: keep must be >= 1, got ", keep));
  GcResult result;
  std::error_code ec;
  if (!fs::exists(ModelDir(), ec)) return result;
  ASSIGN_OR_RETURN(FileLock lock, LockModelDir(ModelDir()));
  ASSIGN_OR_RETURN(std::vector<v1::BundleManifest> versions, List());
  std::set<std::string> protect;
  for (size_t i = versions.size() > static_cast<size_t>(keep) ? versions.size() - keep : 0;
       i < versions.size(); ++i) {
    protect.insert(versions[i].version());
  }
  absl::StatusOr<std::string> current = Production();
  if (current.ok()) {
    ASSIGN_OR_RETURN(std::vector<std::string> stack, ProductionStackLocked(*current));
    for (int n = 0; !stack.empty() && n <= keep; ++n) {  // current + `keep` earlier ones
      protect.insert(stack.back());
      stack.pop_back();
    }
  } else if (!absl::IsNotFound(current.status())) {
    return current.status();  // an unreadable alias: delete nothing
  }
  for (const v1::BundleManifest& m : versions) {
    const std::string& v = m.version();
    if (protect.contains(v)) {
      result.kept.push_back(v);
      continue;
    }
    const fs::path dir = VersionDir(v);
    if (!fs::is_directory(dir, ec)) continue;  // manifest names another directory
    result.bytes += TreeBytes(dir);
    result.removed.push_back(v);
    if (dry_run) continue;
    const fs::path trash = fs::path(ModelDir()) / absl::StrCat(kTrashPrefix, v);
    fs::rename(dir, trash, ec);
    if (ec) return absl::InternalError(absl::StrCat("gc: rename ", dir.string(), ": ", ec.message()));
    fs::remove_all(trash, ec);
    if (ec) return absl::InternalError(absl::StrCat("gc: remove ", trash.string(), ": ", ec.message()));
    LOG(INFO) << "registry: " << name_ << " removed version " << v;
  }
  // Abandoned staging directories (a trainer that crashed before commit) and
  // leftovers of an interrupted gc.
  const auto now = fs::file_time_type::clock::now();
  for (fs::directory_iterator it(ModelDir(), ec), end; !ec && it != end; it.increment(ec)) {
    const std::string base = it->path().filename().string();
    const bool staging = absl::StartsWith(base, kStagingPrefix);
    if (!(staging || absl::StartsWith(base, kTrashPrefix)) || !it->is_directory()) continue;
    std::error_code tec;
    const auto mtime = fs::last_write_time(it->path(), tec);
    if (tec) continue;
    if (staging && now - mtime < absl::ToChronoSeconds(staging_age)) continue;
    result.bytes += TreeBytes(it->path());
    result.removed.push_back(base);
    if (!dry_run) fs::remove_all(it->path(), tec);
  }
  std::sort(result.kept.begin(), result.kept.end());
  return result;
}

}  // namespace recsys
