#include "offline/publish.h"

#include "common/bundle/registry.h"
#include "common/status.h"

namespace recsys::offline {

absl::StatusOr<std::string> PublishBundle(const ModelBundle& bundle,
                                          const std::string& registry_root, const std::string& name,
                                          v1::BundleManifest* manifest,
                                          const CaseResults* case_results) {
  Registry registry(registry_root, name);
  ASSIGN_OR_RETURN(std::string staging, registry.BeginVersion());
  absl::Status saved = bundle.Save(staging, manifest);
  if (saved.ok() && case_results != nullptr) {
    saved = WriteCaseResults(staging + "/" + kCaseResultsFileName, *case_results);
  }
  if (saved.ok()) saved = registry.CommitVersion(staging, *manifest);
  if (!saved.ok()) {
    registry.AbortVersion(staging).IgnoreError();
    return saved;
  }
  RETURN_IF_ERROR(registry.AppendRunRecord(*manifest));
  return registry.VersionDir(manifest->version());
}

}  // namespace recsys::offline
