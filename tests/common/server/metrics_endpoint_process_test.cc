// The /metrics endpoint of a real service process (recsys-retrieval, built into
// RECSYS_BIN_DIR; skipped when it has not been built): requests for other paths
// must not kill it, and --metrics_address picks the listening interface.
// The binary starts without a bundle (an empty registry): its metrics endpoint
// is up before any bundle loads.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tests/common/server/raw_http_client.h"
#include "tests/testing/child_process.h"

namespace recsys {
namespace {

namespace fs = std::filesystem;

const std::string kBinary = std::string(RECSYS_BIN_DIR) + "/recsys-retrieval";

// recsys-retrieval with `args` (tests/testing/child_process.h).
class ServiceProcess : public recsys::testing::ChildProcess {
 public:
  explicit ServiceProcess(const std::vector<std::string>& args) : ChildProcess(kBinary, args) {}
  // The /metrics port from the start-up log line, 0 if it does not appear in 60 s.
  int MetricsPort() { return NumberAfter("/metrics on port "); }
};

// The local address ("0100007F" = 127.0.0.1, little-endian hex as the kernel
// prints it) of the IPv4 socket listening on `port`, "" if there is none.
std::string ListeningAddressHex(int port) {
  std::ifstream tcp("/proc/net/tcp");
  std::string line;
  const std::string port_hex = absl::StrFormat(":%04X", port);
  while (std::getline(tcp, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    if (state == "0A" && absl::EndsWith(local, port_hex)) return local.substr(0, 8);
  }
  return "";
}

class MetricsEndpointProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kBinary)) GTEST_SKIP() << kBinary << " not built";
    registry_ = (fs::temp_directory_path() / absl::StrCat("metrics_endpoint_", getpid())).string();
    fs::create_directories(registry_);
  }
  void TearDown() override {
    if (!registry_.empty()) fs::remove_all(registry_);
  }

  std::vector<std::string> Args(const std::vector<std::string>& extra) const {
    std::vector<std::string> args = {"--registry=" + registry_, "--name=toy", "--port=0",
                                     "--metrics_port=0"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  std::string registry_;
};

// `/` and `/favicon.ico` (what a browser asks for) answer 404, and the process
// stays up and keeps serving /metrics.
TEST_F(MetricsEndpointProcessTest, OtherPathsAnswer404AndTheServiceLives) {
  ServiceProcess service(Args({"--metrics_address=127.0.0.1"}));
  const int port = service.MetricsPort();
  ASSERT_GT(port, 0) << service.output();
  using testing::Exchange;
  using testing::RequestText;
  using testing::StatusOf;
  EXPECT_EQ(StatusOf(Exchange(port, RequestText("GET", "/"))), 404);
  EXPECT_EQ(StatusOf(Exchange(port, RequestText("GET", "/favicon.ico"))), 404);
  EXPECT_EQ(StatusOf(Exchange(port, RequestText("HEAD", "/"))), 404);
  EXPECT_EQ(StatusOf(Exchange(port, "\x16\x03\x01\x02\x01garbage\r\n\r\n")), 400);
  EXPECT_TRUE(service.Alive()) << service.output();
  const std::string scrape = Exchange(port, RequestText("GET", "/metrics"));
  EXPECT_EQ(StatusOf(scrape), 200) << scrape;
  EXPECT_TRUE(absl::StrContains(scrape, "recsys_bundle_loads_total")) << scrape;
  EXPECT_TRUE(service.Alive()) << service.output();
}

// --metrics_address 127.0.0.1 listens on loopback only; the default is every
// IPv4 interface (0.0.0.0), as before the flag existed.
TEST_F(MetricsEndpointProcessTest, MetricsAddressPicksTheInterface) {
  ServiceProcess loopback(Args({"--metrics_address=127.0.0.1"}));
  const int loopback_port = loopback.MetricsPort();
  ASSERT_GT(loopback_port, 0) << loopback.output();
  EXPECT_EQ(ListeningAddressHex(loopback_port), "0100007F");

  ServiceProcess all(Args({}));
  const int all_port = all.MetricsPort();
  ASSERT_GT(all_port, 0) << all.output();
  EXPECT_EQ(ListeningAddressHex(all_port), "00000000");
  EXPECT_EQ(testing::StatusOf(testing::Exchange(all_port, testing::RequestText("GET", "/metrics"))),
            200);
}

// An address that cannot be bound fails start-up with a clear message.
TEST_F(MetricsEndpointProcessTest, UnusableMetricsAddressFailsStartUp) {
  ServiceProcess service(Args({"--metrics_address=192.0.2.1"}));
  EXPECT_EQ(service.Wait(), 1);
  EXPECT_TRUE(absl::StrContains(service.output(), "cannot start the metrics endpoint"))
      << service.output();
}

}  // namespace
}  // namespace recsys
