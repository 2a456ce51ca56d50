// The model registry: versioned, verified bundles on a local file system and
// an atomically moved `production` alias.
//
// Layout under `root`:
//   <root>/<name>/<version>/            manifest.json + artefacts (immutable once committed)
//   <root>/<name>/.staging-<v>-XXXXXX/  a bundle being written (never listed)
//   <root>/<name>/production            "<version>\n"; replaced by rename(), so readers
//                                       see the old or the new version, never a torn file
//   <root>/<name>/production.history    one line per alias move: "<time>\t<action>\t<version>"
//                                       (action: promote | promote-forced | rollback)
//   <root>/<name>/runs.jsonl            one JSON BundleManifest (without files) per run
//   <root>/<name>/.lock                 FileLock (flock(LOCK_EX)) around every read-modify-write
//
//   Registry reg("registry", "movielens");
//   ASSIGN_OR_RETURN(std::string staging, reg.BeginVersion());
//   ... write artefacts into `staging` ...
//   RETURN_IF_ERROR(reg.CommitVersion(staging, manifest));   // lists + hashes files
//   RETURN_IF_ERROR(reg.AppendRunRecord(manifest));
//   RETURN_IF_ERROR(reg.Promote(manifest.version(), /*force=*/false));
//
// Threading: a Registry holds no mutable state; every method may be called
// concurrently from threads or processes (the alias, history and runs file are
// guarded by the flock, versions are published by rename()).
// Cost: VerifyBundle / Promote / Rollback read and hash every artefact (O(bundle size)).
//
// Policy lives here (registry.cc: versions and run records; registry_manifest.cc:
// manifests and verification; registry_promotion.cc: gate, promote, rollback;
// registry_gc.cc: what gc deletes); file mechanics come from common/io/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "recsys/v1/manifest.pb.h"

namespace recsys {

class BundleFiles;  // bundle_files.h

// Bundle layout version written into manifests; loaders refuse others.
inline constexpr int32_t kBundleFormatVersion = 1;

inline constexpr char kManifestFileName[] = "manifest.json";

// Sortable version id: "20261129T034500Z-1a2b3c" (UTC second + low 24 bits of
// `salt` in hex). Ids created later sort later (ties within a second broken by salt).
std::string NewVersionId(absl::Time now, uint64_t salt);

// A model name (a registry sub-directory): 1..128 characters of [A-Za-z0-9._-],
// not "." or "..". InvalidArgument naming the problem otherwise. Every Registry
// method that touches the file system checks its name with this first.
absl::Status ValidateModelName(absl::string_view name);

// Parses <bundle_dir>/manifest.json. NotFound if missing; DataLoss naming the
// file if it is not a valid manifest.
absl::StatusOr<v1::BundleManifest> ReadManifest(const std::string& bundle_dir);

// Checks that `manifest` describes `bundle_dir`: a known format_version; every
// listed file exists with the listed size and SHA-256; listed paths stay inside
// the directory; no .arr / .faiss / .cases file in the directory is left unlisted
// (a bundle mixing artefacts of two runs). Errors name the offending file.
// With `mapped`, every listed .arr file is memory-mapped and hashed over that
// mapping, which `mapped` then hands to the loaders (a file is read once, and
// the bytes checked are the bytes used); other files are hashed by streaming.
absl::Status VerifyBundle(const std::string& bundle_dir, const v1::BundleManifest& manifest,
                          BundleFiles* mapped = nullptr);

// The metric promotion is gated on: test NDCG@10 of model "two_stage".
inline constexpr char kGateSplit[] = "test";
inline constexpr char kGateModel[] = "two_stage";
inline constexpr int kGateK = 10;
// The test NDCG@10 row of `model` in the manifest's leaderboard, if any.
std::optional<double> LeaderboardNdcg(const v1::BundleManifest& manifest,
                                      const std::string& model);
// The best test NDCG@10 of any model, if any.
std::optional<double> BestTestNdcg(const v1::BundleManifest& manifest);

class Registry {
 public:
  // `root` is the registry directory, `name` the model family ("movielens").
  // Nothing is touched on disk until a method needs it.
  Registry(std::string root, std::string name);

  const std::string& root() const { return root_; }
  const std::string& name() const { return name_; }
  // <root>/<name>
  std::string ModelDir() const;
  // <root>/<name>/<version> (whether or not it exists).
  std::string VersionDir(const std::string& version) const;
  // VersionDir(Production()).
  absl::StatusOr<std::string> ProductionDir() const;

  // Creates an empty, unique staging directory
  // <root>/<name>/.staging-<new version id>-XXXXXX/ and returns its path.
  absl::StatusOr<std::string> BeginVersion() const;
  // Publishes a staging directory as version `manifest.version()`:
  // fills manifest.files (every regular file except manifest.json, sorted by
  // path, with size and SHA-256; each file is fsynced), writes manifest.json
  // durably and renames the directory into place. Empty fields are defaulted:
  // version ← the id in the staging dir name, name ← name(), format_version ←
  // kBundleFormatVersion, created_at ← now. AlreadyExists if the version exists
  // (the staging dir is then left for the caller to abort).
  // Does not append to runs.jsonl: call AppendRunRecord.
  absl::Status CommitVersion(const std::string& staging_dir, v1::BundleManifest manifest) const;
  // Removes a staging directory (and everything in it). Only paths that look
  // like this registry's staging dirs are accepted.
  absl::Status AbortVersion(const std::string& staging_dir) const;
  // The version id embedded in a BeginVersion() path ("" if it is not one).
  static std::string StagingVersionId(const std::string& staging_dir);

  // Manifests of committed versions, sorted by version. Versions whose
  // manifest cannot be read are skipped with a warning naming the file.
  absl::StatusOr<std::vector<v1::BundleManifest>> List() const;
  absl::StatusOr<v1::BundleManifest> Show(const std::string& version) const;
  // The production version, or NotFound if nothing was ever promoted.
  absl::StatusOr<std::string> Production() const;

  // Verifies the bundle, then moves the alias to it and appends the history.
  // Gate (skipped with `force`; promotion_gate.h): FailedPrecondition if the
  // candidate's test "two_stage" NDCG@10 is significantly lower than
  // production's (the 95% interval of the paired per-case difference lies
  // below zero). When either bundle has no per-case results, the raw rule:
  // refused if the candidate's test two_stage NDCG@10 is lower at all; if
  // either lacks that row, the best test NDCG@10 of any model is compared
  // instead, and a candidate with no test NDCG@10 at all is refused while
  // production has one. The message names the rule, the figures and, for the
  // paired rule, the interval and the number of paired cases.
  // Re-promoting the production version is allowed (and recorded).
  absl::Status Promote(const std::string& version, bool force) const;
  // Moves the alias back to the previous distinct production version (after
  // verifying that bundle) and returns it. FailedPrecondition if there is none.
  absl::StatusOr<std::string> Rollback() const;

  // Deletes old versions: keeps the `keep` newest committed versions, the
  // production version and the `keep` most recent earlier productions that
  // `rollback` can return to; removes every other committed version, and
  // staging directories (abandoned training runs) not modified for
  // `staging_age`. Holds the registry lock (no promote or rollback runs
  // meanwhile); each version is renamed aside first, so no reader ever sees a
  // half-deleted bundle. `dry_run` only reports. InvalidArgument for keep < 1.
  struct GcResult {
    std::vector<std::string> kept;     // versions, sorted
    std::vector<std::string> removed;  // versions and staging directories
    uint64_t bytes = 0;                // size of what was (or would be) removed
  };
  absl::StatusOr<GcResult> Gc(int keep, absl::Duration staging_age, bool dry_run) const;

  // Appends `manifest` without its file list as one line of runs.jsonl.
  absl::Status AppendRunRecord(const v1::BundleManifest& manifest) const;
  // Run records in file order (an unparsable line is an error naming it).
  absl::StatusOr<std::vector<v1::BundleManifest>> RunRecords() const;

  // The last run record of `version`, else its manifest (NotFound if neither).
  // An unreadable runs file is logged and skipped.
  absl::StatusOr<v1::BundleManifest> RunRecordOrManifest(const std::string& version) const;

 private:
  // Loads and verifies a version for becoming production.
  absl::StatusOr<v1::BundleManifest> LoadVerified(const std::string& version) const;
  // Production versions in promotion order as `rollback` walks them (the last
  // is the current one). Requires the lock.
  absl::StatusOr<std::vector<std::string>> ProductionStackLocked(const std::string& current) const;
  // Both require the lock to be held.
  absl::Status WriteAliasLocked(const std::string& version) const;
  absl::Status AppendHistoryLocked(const std::string& action, const std::string& version) const;

  std::string root_;
  std::string name_;
};

}  // namespace recsys
