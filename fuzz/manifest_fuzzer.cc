// Fuzzes the bundle manifest reader: the input is written as manifest.json
// into an otherwise empty directory and loaded with ModelBundle::Load, which
// parses the JSON (ReadManifest), checks every listed file path and its
// presence (VerifyBundle) and reads the serving parameters before it needs
// an array file. With no artefact present no input may load.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/bundle/model_bundle.h"
#include "common/bundle/registry.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& dir = recsys::fuzz::ScratchDir();
  recsys::fuzz::WriteScratchFile(dir + "/manifest.json", recsys::fuzz::AsView(data, size));
  auto manifest = recsys::ReadManifest(dir);
  auto bundle = recsys::ModelBundle::Load(dir, recsys::BundleParts::kServing);
  // No artefact exists, so no manifest can give a loaded bundle.
  recsys::fuzz::Check(!bundle.ok(), "a bundle loaded from a directory with no artefacts");
  if (!manifest.ok()) {
    recsys::fuzz::Check(!bundle.status().ok(), "Load fails when ReadManifest does");
  }
  return 0;
}
