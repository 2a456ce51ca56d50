// Publishing a trained bundle: write it into a staging directory of the
// registry, then commit it as a new version (atomic rename, checksums in the
// manifest) and append the run record. A failure removes the staging directory
// and leaves the registry as it was.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "common/bundle/model_bundle.h"
#include "common/eval/case_results.h"
#include "recsys/v1/manifest.pb.h"

namespace recsys::offline {

// Publishes `bundle` as manifest->version() of model `name` in the registry at
// `registry_root`; Save fills the manifest's serving parameters. With
// `case_results`, they are written beside the models as kCaseResultsFileName
// (listed and hashed by the manifest like every file; the promotion gate and
// `recsys-registry compare` read them). Returns the version's directory.
absl::StatusOr<std::string> PublishBundle(const ModelBundle& bundle,
                                          const std::string& registry_root, const std::string& name,
                                          v1::BundleManifest* manifest,
                                          const CaseResults* case_results = nullptr);

}  // namespace recsys::offline
