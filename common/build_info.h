// What this binary is: the project version, the git commit it was built from
// and the CMake build type, fixed when the build is configured. Used by every
// binary's --version and by the recsys_build_info metric.
#pragma once

#include <string>

namespace recsys {

struct BuildInfo {
  const char* version;     // "0.1.0" (CMake project version)
  const char* commit;      // short git commit, "unknown" outside a git checkout
  const char* build_type;  // "Release", "Debug", ...
};

const BuildInfo& GetBuildInfo();

// "<program> <version> (commit <commit>, <build type> build)".
std::string VersionString(const std::string& program);

}  // namespace recsys
