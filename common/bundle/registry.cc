#include "common/bundle/registry.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/bundle/registry_internal.h"
#include "common/io/file.h"
#include "common/io/sha256.h"
#include "common/log.h"
#include "common/status.h"

namespace recsys {
namespace registry_internal {

std::string ErrnoText() { return std::strerror(errno); }

std::string FormatRfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

absl::Status ValidateVersionName(const std::string& version) {
  if (version.empty()) return absl::InvalidArgumentError("empty version");
  if (version[0] == '.' || version[0] == '-') {
    return absl::InvalidArgumentError(
        absl::StrCat("version '", version, "' may not start with '.' or '-'"));
  }
  for (char c : version) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' &&
        c != '.') {
      return absl::InvalidArgumentError(
          absl::StrCat("version '", version, "' has characters outside [A-Za-z0-9._-]"));
    }
  }
  if (version == kProductionFile || version == kHistoryFile || version == kRunsFile) {
    return absl::InvalidArgumentError(absl::StrCat("version '", version, "' is a reserved name"));
  }
  return absl::OkStatus();
}

absl::Status MakeDirs(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("create directory ", dir, ": ", ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<FileLock> LockModelDir(const std::string& model_dir) {
  RETURN_IF_ERROR(MakeDirs(model_dir));
  return FileLock::Acquire(model_dir + "/" + kLockFile);
}

std::string StripTrailingSlashes(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

absl::StatusOr<std::vector<std::string>> ReadLinesIfExists(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::vector<std::string>{};
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

}  // namespace registry_internal

namespace {

namespace fs = std::filesystem;
using registry_internal::ErrnoText;
using registry_internal::FormatRfc3339;
using registry_internal::kProductionFile;
using registry_internal::kRunsFile;
using registry_internal::kStagingPrefix;
using registry_internal::LockModelDir;
using registry_internal::MakeDirs;
using registry_internal::ParseManifestJson;
using registry_internal::ReadLinesIfExists;
using registry_internal::StripTrailingSlashes;
using registry_internal::ToJson;
using registry_internal::ValidateVersionName;

}  // namespace

absl::Status ValidateModelName(absl::string_view name) {
  if (name.empty() || name.size() > 128) {
    return absl::InvalidArgumentError(
        absl::StrCat("model name must be 1..128 characters, got ", name.size()));
  }
  if (name == "." || name == "..") {
    return absl::InvalidArgumentError(absl::StrCat("model name '", name, "' is not allowed"));
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' &&
        c != '.') {
      return absl::InvalidArgumentError(absl::StrCat(
          "model name '", absl::CHexEscape(name), "' has characters outside [A-Za-z0-9._-]"));
    }
  }
  return absl::OkStatus();
}

Registry::Registry(std::string root, std::string name)
    : root_(StripTrailingSlashes(std::move(root))), name_(std::move(name)) {}

std::string Registry::ModelDir() const { return absl::StrCat(root_, "/", name_); }

std::string Registry::VersionDir(const std::string& version) const {
  return absl::StrCat(ModelDir(), "/", version);
}

absl::StatusOr<std::string> Registry::ProductionDir() const {
  ASSIGN_OR_RETURN(std::string version, Production());
  return VersionDir(version);
}

absl::StatusOr<std::string> Registry::BeginVersion() const {
  RETURN_IF_ERROR(ValidateModelName(name_));
  if (name_.empty() || name_.find('/') != std::string::npos || name_[0] == '.') {
    return absl::InvalidArgumentError(absl::StrCat("bad registry model name '", name_, "'"));
  }
  RETURN_IF_ERROR(MakeDirs(ModelDir()));
  std::random_device rd;
  const uint64_t salt = (uint64_t{rd()} << 32) ^ rd();
  std::string templ =
      absl::StrCat(ModelDir(), "/", kStagingPrefix, NewVersionId(absl::Now(), salt), "-XXXXXX");
  if (::mkdtemp(templ.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", templ, ": ", ErrnoText()));
  }
  ::chmod(templ.c_str(), 0755);  // mkdtemp makes 0700; servers may run as another user
  return templ;
}

std::string Registry::StagingVersionId(const std::string& staging_dir) {
  const std::string base = fs::path(StripTrailingSlashes(staging_dir)).filename().string();
  absl::string_view rest(base);
  if (!absl::ConsumePrefix(&rest, kStagingPrefix)) return "";
  const size_t dash = rest.rfind('-');
  if (dash == absl::string_view::npos || dash == 0) return "";
  return std::string(rest.substr(0, dash));
}

absl::Status Registry::CommitVersion(const std::string& staging_dir,
                                     v1::BundleManifest manifest) const {
  RETURN_IF_ERROR(ValidateModelName(name_));
  const std::string staging = StripTrailingSlashes(staging_dir);
  std::error_code ec;
  const fs::path staging_path(staging);
  if (!fs::is_directory(staging_path, ec) ||
      !absl::StartsWith(staging_path.filename().string(), kStagingPrefix) ||
      !fs::equivalent(staging_path.parent_path(), ModelDir(), ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat(staging, " is not a staging directory of ", ModelDir()));
  }
  if (manifest.version().empty()) manifest.set_version(StagingVersionId(staging));
  RETURN_IF_ERROR(ValidateVersionName(manifest.version()));
  if (manifest.name().empty()) manifest.set_name(name_);
  if (manifest.name() != name_) {
    return absl::InvalidArgumentError(absl::StrCat("manifest name '", manifest.name(),
                                                   "' does not match registry name '", name_,
                                                   "'"));
  }
  if (manifest.format_version() == 0) manifest.set_format_version(kBundleFormatVersion);
  if (manifest.format_version() != kBundleFormatVersion) {
    return absl::InvalidArgumentError(absl::StrCat(
        "manifest format_version ", manifest.format_version(), ", expected ", kBundleFormatVersion));
  }
  if (manifest.created_at().empty()) manifest.set_created_at(FormatRfc3339(absl::Now()));

  // Every regular file (recursively), sorted; subdirectories are fsynced too.
  std::vector<std::string> files;
  std::vector<std::string> subdirs;
  for (fs::recursive_directory_iterator it(staging_path, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string rel = it->path().lexically_relative(staging_path).generic_string();
    const fs::file_status st = it->symlink_status();
    if (fs::is_directory(st)) {
      subdirs.push_back(it->path().string());
    } else if (fs::is_regular_file(st)) {
      if (rel != kManifestFileName) files.push_back(rel);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(it->path().string(), ": not a regular file (bundles hold only files)"));
    }
  }
  if (ec) return absl::InternalError(absl::StrCat("list ", staging, ": ", ec.message()));
  std::sort(files.begin(), files.end());
  manifest.clear_files();
  for (const std::string& rel : files) {
    const std::string path = staging + "/" + rel;
    RETURN_IF_ERROR(FsyncFile(path));
    const uintmax_t size = fs::file_size(path, ec);
    if (ec) return absl::InternalError(absl::StrCat("stat ", path, ": ", ec.message()));
    ASSIGN_OR_RETURN(std::string sha, Sha256File(path));
    v1::BundleFile* f = manifest.add_files();
    f->set_path(rel);
    f->set_size_bytes(static_cast<int64_t>(size));
    f->set_sha256(std::move(sha));
  }
  ASSIGN_OR_RETURN(std::string json, ToJson(manifest, /*pretty=*/true));
  RETURN_IF_ERROR(WriteFileDurably(staging + "/" + kManifestFileName, json));
  for (const std::string& d : subdirs) RETURN_IF_ERROR(SyncDirectory(d));
  RETURN_IF_ERROR(SyncDirectory(staging));

  const std::string target = VersionDir(manifest.version());
  {
    ASSIGN_OR_RETURN(FileLock lock, LockModelDir(ModelDir()));
    // rename() would silently replace an empty directory: refuse any existing
    // target. The lock serializes committers where RENAME_NOREPLACE is missing.
    const absl::Status renamed = RenameNoReplace(staging, target);
    if (absl::IsAlreadyExists(renamed)) {
      return absl::AlreadyExistsError(absl::StrCat("version ", target, " already exists"));
    }
    RETURN_IF_ERROR(renamed);
  }
  RETURN_IF_ERROR(SyncDirectory(ModelDir()));
  LOG(INFO) << "registry: committed " << target << " (" << manifest.files_size() << " files)";
  return absl::OkStatus();
}

absl::Status Registry::AbortVersion(const std::string& staging_dir) const {
  const fs::path staging(StripTrailingSlashes(staging_dir));
  std::error_code ec;
  if (!absl::StartsWith(staging.filename().string(), kStagingPrefix) ||
      !fs::equivalent(staging.parent_path(), ModelDir(), ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat(staging.string(), " is not a staging directory of ", ModelDir()));
  }
  fs::remove_all(staging, ec);
  if (ec) return absl::InternalError(absl::StrCat("remove ", staging.string(), ": ", ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::BundleManifest>> Registry::List() const {
  RETURN_IF_ERROR(ValidateModelName(name_));
  std::vector<std::pair<std::string, v1::BundleManifest>> found;
  std::error_code ec;
  if (!fs::exists(ModelDir(), ec)) return std::vector<v1::BundleManifest>{};
  for (fs::directory_iterator it(ModelDir(), ec), end; !ec && it != end; it.increment(ec)) {
    const std::string dirname = it->path().filename().string();
    if (dirname.empty() || dirname[0] == '.' || !it->is_directory()) continue;  // staging, lock
    absl::StatusOr<v1::BundleManifest> m = ReadManifest(it->path().string());
    if (!m.ok()) {
      LOG(WARNING) << "registry: skipping " << it->path().string() << ": " << m.status().message();
      continue;
    }
    if (m->version() != dirname) {
      LOG(WARNING) << "registry: " << it->path().string() << " holds manifest of version '"
                   << m->version() << "'";
    }
    found.emplace_back(dirname, *std::move(m));
  }
  if (ec) return absl::InternalError(absl::StrCat("list ", ModelDir(), ": ", ec.message()));
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<v1::BundleManifest> out;
  out.reserve(found.size());
  for (auto& [dirname, m] : found) out.push_back(std::move(m));
  return out;
}

absl::StatusOr<v1::BundleManifest> Registry::Show(const std::string& version) const {
  RETURN_IF_ERROR(ValidateVersionName(version));
  std::error_code ec;
  if (!fs::is_directory(VersionDir(version), ec)) {
    return absl::NotFoundError(absl::StrCat("no version ", version, " of ", name_, " in ", root_));
  }
  return ReadManifest(VersionDir(version));
}

absl::StatusOr<std::string> Registry::Production() const {
  RETURN_IF_ERROR(ValidateModelName(name_));
  const std::string path = ModelDir() + "/" + kProductionFile;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat("no production version of ", name_, " (", path,
                                            " does not exist)"));
  }
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  const std::string version(absl::StripAsciiWhitespace(text));
  if (!ValidateVersionName(version).ok()) {
    return absl::DataLossError(absl::StrCat(path, ": bad production alias '", version, "'"));
  }
  return version;
}

absl::Status Registry::AppendRunRecord(const v1::BundleManifest& manifest) const {
  RETURN_IF_ERROR(ValidateModelName(name_));
  v1::BundleManifest record = manifest;
  record.clear_files();
  if (record.name().empty()) record.set_name(name_);
  ASSIGN_OR_RETURN(std::string json, ToJson(record, /*pretty=*/false));
  ASSIGN_OR_RETURN(FileLock lock, LockModelDir(ModelDir()));
  return AppendFileDurably(ModelDir() + "/" + kRunsFile, json + "\n");
}

absl::StatusOr<std::vector<v1::BundleManifest>> Registry::RunRecords() const {
  const std::string path = ModelDir() + "/" + kRunsFile;
  ASSIGN_OR_RETURN(std::vector<std::string> lines, ReadLinesIfExists(path));
  std::vector<v1::BundleManifest> out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (absl::StripAsciiWhitespace(lines[i]).empty()) continue;
    v1::BundleManifest m;
    RETURN_IF_ERROR(ParseManifestJson(lines[i], absl::StrCat(path, ":", i + 1), &m));
    out.push_back(std::move(m));
  }
  return out;
}

absl::StatusOr<v1::BundleManifest> Registry::RunRecordOrManifest(
    const std::string& version) const {
  absl::StatusOr<std::vector<v1::BundleManifest>> runs = RunRecords();
  if (!runs.ok()) {
    LOG(WARNING) << "registry: " << runs.status().message() << "; using manifests";
  } else {
    for (auto it = runs->rbegin(); it != runs->rend(); ++it) {
      if (it->version() == version) return *it;
    }
  }
  return Show(version);
}

}  // namespace recsys
