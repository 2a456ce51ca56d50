// Helpers shared by the registry's implementation files (registry*.cc).
// Not part of the registry's API: include only from common/bundle/registry*.cc.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/io/file_lock.h"
#include "google/protobuf/message.h"
#include "recsys/v1/manifest.pb.h"

namespace recsys::registry_internal {

// Names inside <root>/<name>/ (see registry.h for the layout).
inline constexpr char kStagingPrefix[] = ".staging-";
inline constexpr char kProductionFile[] = "production";
inline constexpr char kProductionTmpFile[] = ".production.tmp";
inline constexpr char kHistoryFile[] = "production.history";
inline constexpr char kRunsFile[] = "runs.jsonl";
inline constexpr char kLockFile[] = ".lock";
inline constexpr char kTrashPrefix[] = ".trash-";

std::string ErrnoText();
std::string FormatRfc3339(absl::Time t);
std::string StripTrailingSlashes(std::string p);

// Version ids become directory names: a safe alphabet, no leading '.' or '-',
// none of the registry's own file names.
absl::Status ValidateVersionName(const std::string& version);

absl::Status MakeDirs(const std::string& dir);

// The registry lock: an exclusive FileLock on <model_dir>/.lock (creating the
// directory if needed), guarding every read-modify-write of the alias,
// history, runs file and version set.
absl::StatusOr<FileLock> LockModelDir(const std::string& model_dir);

// Lines of a text file without their '\n'; an absent file has none.
absl::StatusOr<std::vector<std::string>> ReadLinesIfExists(const std::string& path);

// Manifest <-> JSON with proto field names and every primitive field printed;
// parsing ignores unknown fields and reports DataLoss naming `where`.
absl::StatusOr<std::string> ToJson(const google::protobuf::Message& m, bool pretty);
absl::Status ParseManifestJson(const std::string& json, const std::string& where,
                               v1::BundleManifest* m);

}  // namespace recsys::registry_internal
