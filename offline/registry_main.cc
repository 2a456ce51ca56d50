// recsys-registry: inspect the model registry and move the production alias.
//   recsys-registry --registry registry --name movielens list
//   recsys-registry promote 20261129T034500Z-1a2b3c [--force]
//   recsys-registry rollback
//   recsys-registry compare A B      (ends with the paired per-case comparison)
//   recsys-registry gc [--keep 5] [--dry_run]
#include <exception>
#include <filesystem>
#include <memory>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "absl/strings/str_cat.h"
#include "common/bundle/model_bundle.h"
#include "common/bundle/registry.h"
#include "common/cli_flags.h"
#include "common/log.h"
#include "google/protobuf/util/json_util.h"
#include "offline/registry_format.h"

ABSL_FLAG(std::string, registry, "registry", "Registry root directory");
ABSL_FLAG(std::string, name, "movielens", "Model name (sub-directory of --registry)");
ABSL_FLAG(bool, force, false,
          "promote: skip the metric gate (promote even if test two_stage NDCG@10 is "
          "significantly lower than production's)");

ABSL_FLAG(bool, load_check, true,
          "promote: load the bundle as each service would (arrays, indexes, cross-checks) "
          "and refuse it if any part fails, before moving the alias");

ABSL_FLAG(int, keep, 5,
          "gc: newest versions kept (besides production and this many earlier productions "
          "that rollback can return to)");
ABSL_FLAG(bool, dry_run, false, "gc: list what would be removed, remove nothing");
ABSL_FLAG(absl::Duration, staging_age, absl::Hours(24),
          "gc: staging directories (unfinished training runs) untouched this long are removed");

namespace recsys {
namespace {

constexpr char kUsage[] =
    "recsys-registry [--registry DIR] [--name NAME] COMMAND\n"
    "commands:\n"
    "  list               versions with kind, creation time, test two_stage NDCG@10; * = "
    "production\n"
    "  show VERSION       the version's manifest (JSON)\n"
    "  production         the production version\n"
    "  promote VERSION    verify and trial-load the bundle, then make it production\n"
    "                     (--force skips the metric gate, never the checks)\n"
    "  rollback           move production back to the previous production version\n"
    "  compare A B        parameters and leaderboards of two versions side by side, then\n"
    "                     the paired per-case difference B - A of two_stage with its 95% "
    "interval\n"
    "  gc                 delete old versions (--keep N newest + production + N rollback "
    "targets; --dry_run)";

int Fail(const absl::Status& s) {
  std::cerr << "recsys-registry: " << s.message() << "\n";
  return 1;
}

int Usage(const std::string& problem) {
  std::cerr << "recsys-registry: " << problem << "\n" << kUsage << "\n";
  return 2;
}

int List(const Registry& reg) {
  absl::StatusOr<std::vector<v1::BundleManifest>> versions = reg.List();
  if (!versions.ok()) return Fail(versions.status());
  const absl::StatusOr<std::string> prod = reg.Production();
  if (!prod.ok() && !absl::IsNotFound(prod.status())) {
    std::cerr << "recsys-registry: warning: " << prod.status().message() << "\n";
  }
  std::cout << offline::FormatVersionList(*versions, prod.ok() ? *prod : "", reg.ModelDir());
  return 0;
}

int Show(const Registry& reg, const std::string& version) {
  absl::StatusOr<v1::BundleManifest> m = reg.Show(version);
  if (!m.ok()) return Fail(m.status());
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  const auto s = google::protobuf::util::MessageToJsonString(*m, &json, options);
  if (!s.ok()) return Fail(absl::InternalError(s.ToString()));
  std::cout << json;
  return 0;
}

// Loads `version` as the services will (every part, with all checks) so a
// bundle no service could load never becomes production.
absl::Status TrialLoad(const Registry& reg, const std::string& version) {
  const std::string dir = reg.VersionDir(version);
  // kRetrieval loads every model kServing does, plus the indexes retrieval
  // builds from the catalogue.
  for (const BundleParts parts : {BundleParts::kRetrieval, BundleParts::kGateway}) {
    absl::StatusOr<std::shared_ptr<const ModelBundle>> b = absl::InternalError("not loaded");
    try {
      b = ModelBundle::Load(dir, parts);
    } catch (const std::exception& e) {
      b = absl::InternalError(e.what());
    }
    if (!b.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "version ", version, " does not load, not promoted: ", b.status().message()));
    }
  }
  return absl::OkStatus();
}

int Run(const std::vector<std::string>& args) {
  if (args.empty()) return Usage("missing command");
  // Every command needs an existing registry and model: a typo in either must
  // fail loudly, not list nothing.
  const std::string root = absl::GetFlag(FLAGS_registry);
  const std::string name = absl::GetFlag(FLAGS_name);
  std::error_code ec;
  if (!std::filesystem::is_directory(root, ec)) {
    return Fail(absl::NotFoundError("--registry " + root + " is not a directory"));
  }
  if (const absl::Status bad = ValidateModelName(name); !bad.ok()) {
    return Usage(absl::StrCat("--name: ", bad.message()));
  }
  const Registry reg(root, name);
  if (!std::filesystem::is_directory(reg.ModelDir(), ec)) {
    return Fail(absl::NotFoundError("no model '" + name + "' in registry " + root + " (no " +
                                    reg.ModelDir() + "; see --name)"));
  }
  const std::string& cmd = args[0];
  auto want_args = [&](size_t n) { return args.size() == n + 1; };
  if (cmd == "list" && want_args(0)) return List(reg);
  if (cmd == "show" && want_args(1)) return Show(reg, args[1]);
  if (cmd == "production" && want_args(0)) {
    absl::StatusOr<std::string> v = reg.Production();
    if (!v.ok()) return Fail(v.status());
    std::cout << *v << "\n";
    return 0;
  }
  if (cmd == "promote" && want_args(1)) {
    if (absl::GetFlag(FLAGS_load_check)) {
      if (const absl::Status s = TrialLoad(reg, args[1]); !s.ok()) return Fail(s);
    }
    const absl::Status s = reg.Promote(args[1], absl::GetFlag(FLAGS_force));
    if (!s.ok()) return Fail(s);
    std::cout << "production is now " << args[1] << "\n";
    return 0;
  }
  if (cmd == "rollback" && want_args(0)) {
    absl::StatusOr<std::string> v = reg.Rollback();
    if (!v.ok()) return Fail(v.status());
    std::cout << "production is now " << *v << "\n";
    return 0;
  }
  if (cmd == "compare" && want_args(2)) {
    absl::StatusOr<std::string> table = offline::CompareVersions(reg, args[1], args[2]);
    if (!table.ok()) return Fail(table.status());
    std::cout << *table;
    return 0;
  }
  if (cmd == "gc" && want_args(0)) {
    const bool dry_run = absl::GetFlag(FLAGS_dry_run);
    absl::StatusOr<Registry::GcResult> r =
        reg.Gc(absl::GetFlag(FLAGS_keep), absl::GetFlag(FLAGS_staging_age), dry_run);
    if (!r.ok()) return Fail(r.status());
    std::cout << offline::FormatGcResult(*r, dry_run);
    return 0;
  }
  return Usage("bad command line: '" + cmd + "' with " + std::to_string(args.size() - 1) +
               " argument(s)");
}

}  // namespace
}  // namespace recsys

int main(int argc, char** argv) {
  std::vector<char*> positional = recsys::ParseFlags(
      argc, argv, "recsys-registry",
      std::string("inspect the model registry and move the production alias\n") +
          recsys::kUsage);
  std::vector<std::string> args(positional.begin() + 1, positional.end());
  return recsys::Run(args);
}
