// Bundle manifests: version ids, JSON encoding, reading and verifying a bundle
// directory against its manifest.

#include "common/bundle/registry.h"

#include <sys/stat.h>

#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/bundle/bundle_files.h"
#include "common/bundle/registry_internal.h"
#include "common/io/file.h"
#include "common/io/sha256.h"
#include "common/status.h"
#include "google/protobuf/util/json_util.h"

namespace recsys {
namespace registry_internal {

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

}  // namespace registry_internal

namespace {

namespace fs = std::filesystem;
using registry_internal::ErrnoText;
using registry_internal::ParseManifestJson;
using registry_internal::StripTrailingSlashes;

bool IsArtefactExtension(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".arr" || ext == ".faiss" || ext == ".cases";
}

bool IsArrayFile(const fs::path& p) { return p.extension().string() == ".arr"; }

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

absl::Status VerifyBundle(const std::string& bundle_dir, const v1::BundleManifest& manifest,
                          BundleFiles* mapped) {
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
    if (mapped != nullptr && IsArrayFile(rel)) {
      RETURN_IF_ERROR(mapped->MapVerified(rel.lexically_normal().generic_string(),
                                          f.size_bytes(), f.sha256()));
      continue;
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

}  // namespace recsys
