#include "common/build_info.h"

#include <gtest/gtest.h>

#include <string>

namespace recsys {
namespace {

// The version string names the program, the CMake project version, a commit and the build type.
TEST(BuildInfoTest, VersionStringCarriesVersionCommitAndBuildType) {
  const BuildInfo& b = GetBuildInfo();
  EXPECT_STREQ(b.version, "0.1.0");
  EXPECT_NE(std::string(b.commit), "");
  EXPECT_NE(std::string(b.build_type), "unknown");
  const std::string v = VersionString("recsys-test");
  EXPECT_NE(v.find("recsys-test 0.1.0"), std::string::npos) << v;
  EXPECT_NE(v.find(b.commit), std::string::npos) << v;
  EXPECT_NE(v.find(b.build_type), std::string::npos) << v;
}

}  // namespace
}  // namespace recsys
