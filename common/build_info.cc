#include "common/build_info.h"

#include "absl/strings/str_cat.h"

#ifndef RECSYS_VERSION
#define RECSYS_VERSION "unknown"
#endif
#ifndef RECSYS_GIT_COMMIT
#define RECSYS_GIT_COMMIT "unknown"
#endif
#ifndef RECSYS_BUILD_TYPE
#define RECSYS_BUILD_TYPE "unknown"
#endif

namespace recsys {

const BuildInfo& GetBuildInfo() {
  static const BuildInfo info{RECSYS_VERSION, RECSYS_GIT_COMMIT, RECSYS_BUILD_TYPE};
  return info;
}

std::string VersionString(const std::string& program) {
  const BuildInfo& b = GetBuildInfo();
  return absl::StrCat(program, " ", b.version, " (commit ", b.commit, ", ", b.build_type,
                      " build)");
}

}  // namespace recsys
