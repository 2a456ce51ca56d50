#include "common/bundle/registry.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/bundle/array_file.h"
#include "common/log.h"
#include "common/status.h"
#include "google/protobuf/util/json_util.h"

namespace recsys {
namespace {

namespace fs = std::filesystem;

constexpr char kStagingPrefix[] = ".staging-";
constexpr char kProductionFile[] = "production";
constexpr char kHistoryFile[] = "production.history";
constexpr char kRunsFile[] = "runs.jsonl";
constexpr char kLockFile[] = ".lock";

std::string ErrnoText() { return std::strerror(errno); }

std::string FormatRfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

// Version ids become directory names: keep them to a safe alphabet and away
// from the registry's own files.
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
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("create directory ", dir, ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status WriteAllFd(int fd, const std::string& data, const std::string& path) {
  const char* p = data.data();
  size_t n = data.size();
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("write ", path, ": ", ErrnoText()));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

// Appends `line` (which ends in '\n') and fsyncs. One write() per line, so a
// crash leaves at worst a torn last line, which readers report by line number.
absl::Status AppendLineDurably(const std::string& path, const std::string& line) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", path, ": ", ErrnoText()));
  absl::Status s = WriteAllFd(fd, line, path);
  if (s.ok() && ::fsync(fd) != 0) {
    s = absl::InternalError(absl::StrCat("fsync ", path, ": ", ErrnoText()));
  }
  ::close(fd);
  return s;
}

absl::Status FsyncFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", path, ": ", ErrnoText()));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return absl::InternalError(absl::StrCat("fsync ", path, ": ", ErrnoText()));
  return absl::OkStatus();
}

// An exclusive flock() on <model dir>/.lock, released on destruction. Each
// instance opens its own file description, so it excludes other threads of
// this process as well as other processes.
class FileLock {
 public:
  static absl::StatusOr<FileLock> Acquire(const std::string& dir) {
    RETURN_IF_ERROR(MakeDirs(dir));
    const std::string path = dir + "/" + kLockFile;
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return absl::InternalError(absl::StrCat("open ", path, ": ", ErrnoText()));
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      const std::string err = ErrnoText();
      ::close(fd);
      return absl::InternalError(absl::StrCat("flock ", path, ": ", err));
    }
    return FileLock(fd);
  }
  FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileLock& operator=(FileLock&&) = delete;
  FileLock(const FileLock&) = delete;
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the lock
  }

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

absl::StatusOr<std::string> ToJson(const google::protobuf::Message& m, bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  const auto status = google::protobuf::util::MessageToJsonString(m, &out, options);
  if (!status.ok()) return absl::InternalError(absl::StrCat("to JSON: ", status.ToString()));
  return out;
}

absl::Status ParseManifestJson(const std::string& json, const std::string& where,
                               v1::BundleManifest* m) {
  google::protobuf::util::JsonParseOptions options;
  // Newer trainers may add fields; the format_version guards real layout changes.
  options.ignore_unknown_fields = true;
  const auto status = google::protobuf::util::JsonStringToMessage(json, m, options);
  if (!status.ok()) {
    return absl::DataLossError(
        absl::StrCat(where, ": not a valid bundle manifest: ", status.ToString()));
  }
  return absl::OkStatus();
}

std::string StripTrailingSlashes(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

bool IsArtefactExtension(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".arr" || ext == ".faiss";
}

// Lines of a text file; an absent file has none.
absl::StatusOr<std::vector<std::string>> ReadLinesIfExists(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::vector<std::string>{};
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

// Columns padded to their widest cell, separated by two spaces.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (row.size() > width.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line += "  ";
      line += row[i];
      if (i + 1 < row.size()) line.append(width[i] - row[i].size(), ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string Metric(double v) { return absl::StrFormat("%.4f", v); }
std::string Delta(double d) { return absl::StrFormat("%+.4f", d); }

}  // namespace

std::string NewVersionId(absl::Time now, uint64_t salt) {
  return absl::StrCat(absl::FormatTime("%Y%m%dT%H%M%SZ", now, absl::UTCTimeZone()), "-",
                      absl::StrFormat("%06x", salt & 0xffffffu));
}

absl::StatusOr<v1::BundleManifest> ReadManifest(const std::string& bundle_dir) {
  const std::string path = StripTrailingSlashes(bundle_dir) + "/" + kManifestFileName;
  std::error_code ec;
  if (!fs::exists(path, ec)) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  ASSIGN_OR_RETURN(std::string json, ReadFile(path));
  v1::BundleManifest manifest;
  RETURN_IF_ERROR(ParseManifestJson(json, path, &manifest));
  return manifest;
}

absl::Status VerifyBundle(const std::string& bundle_dir, const v1::BundleManifest& manifest) {
  const std::string dir = StripTrailingSlashes(bundle_dir);
  if (manifest.format_version() != kBundleFormatVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, "/", kManifestFileName, ": bundle format_version ",
                     manifest.format_version(), ", this build reads ", kBundleFormatVersion));
  }
  std::set<std::string> listed;
  for (const v1::BundleFile& f : manifest.files()) {
    const fs::path rel(f.path());
    bool escapes = f.path().empty() || rel.is_absolute();
    for (const auto& part : rel) escapes |= part == "..";
    if (escapes) {
      return absl::DataLossError(absl::StrCat(dir, "/", kManifestFileName, ": bad file path '",
                                              f.path(), "'"));
    }
    if (!listed.insert(rel.lexically_normal().generic_string()).second) {
      return absl::DataLossError(
          absl::StrCat(dir, "/", kManifestFileName, ": file '", f.path(), "' listed twice"));
    }
    const std::string path = dir + "/" + f.path();
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      return absl::DataLossError(
          absl::StrCat(path, ": listed in the manifest but missing (", ErrnoText(), ")"));
    }
    if (!S_ISREG(st.st_mode)) {
      return absl::DataLossError(absl::StrCat(path, ": not a regular file"));
    }
    if (static_cast<int64_t>(st.st_size) != f.size_bytes()) {
      return absl::DataLossError(absl::StrCat(path, ": size ", st.st_size,
                                              " bytes, the manifest says ", f.size_bytes()));
    }
    ASSIGN_OR_RETURN(std::string sha, Sha256File(path));
    if (sha != f.sha256()) {
      return absl::DataLossError(absl::StrCat(path, ": SHA-256 mismatch (file ", sha,
                                              ", manifest ", f.sha256(), ")"));
    }
  }
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file() || !IsArtefactExtension(it->path())) continue;
    const std::string rel = it->path().lexically_relative(dir).generic_string();
    if (!listed.count(rel)) {
      return absl::DataLossError(
          absl::StrCat(it->path().string(), ": artefact not listed in the manifest"));
    }
  }
  if (ec) return absl::InternalError(absl::StrCat("list ", dir, ": ", ec.message()));
  return absl::OkStatus();
}

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
    ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(ModelDir()));
    // rename() would silently replace an empty directory: refuse any existing target.
    if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) != 0) {
      if (errno == EEXIST || errno == ENOTEMPTY) {
        return absl::AlreadyExistsError(absl::StrCat("version ", target, " already exists"));
      }
      if (errno != EINVAL && errno != ENOSYS) {
        return absl::InternalError(
            absl::StrCat("rename ", staging, " -> ", target, ": ", ErrnoText()));
      }
      // The file system lacks RENAME_NOREPLACE; committers are serialized by the lock.
      if (fs::exists(target, ec)) {
        return absl::AlreadyExistsError(absl::StrCat("version ", target, " already exists"));
      }
      if (::rename(staging.c_str(), target.c_str()) != 0) {
        return absl::InternalError(
            absl::StrCat("rename ", staging, " -> ", target, ": ", ErrnoText()));
      }
    }
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
  const std::string tmp = ModelDir() + "/.production.tmp";
  const std::string alias = ModelDir() + "/" + kProductionFile;
  RETURN_IF_ERROR(WriteFileDurably(tmp, version + "\n"));
  if (::rename(tmp.c_str(), alias.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("rename ", tmp, " -> ", alias, ": ", ErrnoText()));
  }
  return SyncDirectory(ModelDir());
}

absl::Status Registry::AppendHistoryLocked(const std::string& action,
                                           const std::string& version) const {
  return AppendLineDurably(ModelDir() + "/" + kHistoryFile,
                           absl::StrCat(FormatRfc3339(absl::Now()), "\t", action, "\t", version,
                                        "\n"));
}

absl::Status Registry::Promote(const std::string& version, bool force) const {
  RETURN_IF_ERROR(ValidateVersionName(version));
  // Hash outside the lock: versions are immutable, and bundles can be large.
  ASSIGN_OR_RETURN(v1::BundleManifest candidate, LoadVerified(version));
  ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(ModelDir()));
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

namespace {

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
  if (keep < 1) return absl::InvalidArgumentError(absl::StrCat("gc: keep must be >= 1, got ", keep));
  GcResult result;
  std::error_code ec;
  if (!fs::exists(ModelDir(), ec)) return result;
  ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(ModelDir()));
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
    const fs::path trash = fs::path(ModelDir()) / absl::StrCat(".trash-", v);
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
    if (!(staging || absl::StartsWith(base, ".trash-")) || !it->is_directory()) continue;
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

absl::StatusOr<std::string> Registry::Rollback() const {
  ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(ModelDir()));
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

absl::Status Registry::AppendRunRecord(const v1::BundleManifest& manifest) const {
  v1::BundleManifest record = manifest;
  record.clear_files();
  if (record.name().empty()) record.set_name(name_);
  ASSIGN_OR_RETURN(std::string json, ToJson(record, /*pretty=*/false));
  ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(ModelDir()));
  return AppendLineDurably(ModelDir() + "/" + kRunsFile, json + "\n");
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

absl::StatusOr<std::string> Registry::Compare(const std::string& a, const std::string& b) const {
  ASSIGN_OR_RETURN(v1::BundleManifest ma, RunRecordOrManifest(a));
  ASSIGN_OR_RETURN(v1::BundleManifest mb, RunRecordOrManifest(b));
  std::string out = absl::StrCat("compare ", name_, ": A = ", a, ", B = ", b,
                                 " ('*' marks a difference)\n\n");

  std::vector<std::vector<std::string>> rows = {{"field", "A", "B", ""}};
  auto add = [&rows](const std::string& field, const std::string& va, const std::string& vb) {
    rows.push_back({field, va, vb, va == vb ? "" : "*"});
  };
  add("kind", ma.kind(), mb.kind());
  add("created_at", ma.created_at(), mb.created_at());
  add("data_fingerprint", ma.data_fingerprint(), mb.data_fingerprint());
  add("data_format", ma.data_format(), mb.data_format());
  add("num_users", absl::StrCat(ma.num_users()), absl::StrCat(mb.num_users()));
  add("num_items", absl::StrCat(ma.num_items()), absl::StrCat(mb.num_items()));
  add("num_interactions", absl::StrCat(ma.num_interactions()),
      absl::StrCat(mb.num_interactions()));
  add("train_seconds", absl::StrFormat("%.1f", ma.train_seconds()),
      absl::StrFormat("%.1f", mb.train_seconds()));
  add("ranker_auc", Metric(ma.ranker_auc()), Metric(mb.ranker_auc()));
  std::map<std::string, std::pair<std::string, std::string>> params;
  for (const auto& [k, v] : ma.parameters()) params[k].first = v;
  for (const auto& [k, v] : mb.parameters()) params[k].second = v;
  for (const auto& [k, v] : params) {
    add(absl::StrCat("param ", k), ma.parameters().count(k) ? v.first : "-",
        mb.parameters().count(k) ? v.second : "-");
  }
  absl::StrAppend(&out, FormatTable(rows), "\n");

  // Leaderboard rows keyed by (split, model, k), in A's order then B-only rows.
  using Key = std::tuple<std::string, std::string, int>;
  std::vector<Key> keys;
  std::map<Key, const v1::LeaderboardRow*> ra, rb;
  for (const auto& r : ma.leaderboard()) {
    Key key{r.split(), r.model(), r.k()};
    if (ra.emplace(key, &r).second) keys.push_back(key);
  }
  for (const auto& r : mb.leaderboard()) {
    Key key{r.split(), r.model(), r.k()};
    if (rb.emplace(key, &r).second && !ra.count(key)) keys.push_back(key);
  }
  rows = {{"split", "model", "k", "metric", "A", "B", "B-A"}};
  for (const Key& key : keys) {
    const v1::LeaderboardRow* x = ra.count(key) ? ra[key] : nullptr;
    const v1::LeaderboardRow* y = rb.count(key) ? rb[key] : nullptr;
    const std::pair<const char*, double (v1::LeaderboardRow::*)() const> metrics[] = {
        {"ndcg", &v1::LeaderboardRow::ndcg},
        {"recall", &v1::LeaderboardRow::recall},
        {"map", &v1::LeaderboardRow::map},
        {"coverage", &v1::LeaderboardRow::coverage}};
    bool first = true;
    for (const auto& [metric, getter] : metrics) {
      std::vector<std::string> row;
      if (first) {
        row = {std::get<0>(key), std::get<1>(key), absl::StrCat(std::get<2>(key))};
      } else {
        row = {"", "", ""};
      }
      first = false;
      row.push_back(metric);
      row.push_back(x ? Metric((x->*getter)()) : "-");
      row.push_back(y ? Metric((y->*getter)()) : "-");
      row.push_back(x && y ? Delta((y->*getter)() - (x->*getter)()) : "-");
      rows.push_back(std::move(row));
    }
  }
  if (keys.empty()) {
    absl::StrAppend(&out, "(no leaderboard rows)\n");
  } else {
    absl::StrAppend(&out, FormatTable(rows));
  }
  return out;
}

}  // namespace recsys
