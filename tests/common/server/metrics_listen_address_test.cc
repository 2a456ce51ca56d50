#include <string>

#include <gtest/gtest.h>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "common/server/server_main_util.h"

ABSL_DECLARE_FLAG(std::string, metrics_address);

namespace recsys {
namespace {

// The default is every IPv4 interface; an IPv6 --metrics_address is bracketed.
TEST(MetricsListenAddressTest, JoinsTheFlagWithThePort) {
  absl::FlagSaver restore;
  EXPECT_EQ(MetricsListenAddress(9092), "0.0.0.0:9092");
  absl::SetFlag(&FLAGS_metrics_address, "127.0.0.1");
  EXPECT_EQ(MetricsListenAddress(0), "127.0.0.1:0");
  absl::SetFlag(&FLAGS_metrics_address, "::1");
  EXPECT_EQ(MetricsListenAddress(9092), "[::1]:9092");
}

}  // namespace
}  // namespace recsys
