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

namespace recsys {
namespace {

namespace fs = std::filesystem;

const std::string kBinary = std::string(RECSYS_BIN_DIR) + "/recsys-retrieval";

// recsys-retrieval with `args`, stdout and stderr on one pipe; killed (SIGKILL)
// and reaped on destruction.
class ServiceProcess {
 public:
  explicit ServiceProcess(const std::vector<std::string>& args) {
    int fds[2];
    if (pipe(fds) != 0) return;
    std::vector<char*> argv = {const_cast<char*>(kBinary.c_str())};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], 1);
      dup2(fds[1], 2);
      close(fds[0]);
      close(fds[1]);
      execv(kBinary.c_str(), argv.data());
      _exit(127);
    }
    close(fds[1]);
    out_fd_ = fds[0];
  }
  ~ServiceProcess() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) close(out_fd_);
  }

  // The /metrics port from the start-up log line, 0 if it does not appear in 60 s.
  int MetricsPort() {
    const std::string marker = "/metrics on port ";
    while (true) {
      const size_t at = output_.find(marker);
      if (at != std::string::npos) {
        const size_t begin = at + marker.size();
        const size_t end = output_.find_first_not_of("0123456789", begin);
        int port = 0;
        if (end != std::string::npos &&
            absl::SimpleAtoi(output_.substr(begin, end - begin), &port)) {
          return port;
        }
      }
      pollfd p{out_fd_, POLLIN, 0};
      if (poll(&p, 1, 60000) <= 0) return 0;
      char buf[4096];
      const ssize_t n = read(out_fd_, buf, sizeof(buf));
      if (n <= 0) return 0;
      output_.append(buf, static_cast<size_t>(n));
    }
  }

  // Reads to EOF, waits for the exit and returns its code (-1 if killed by a signal).
  int Wait() {
    char buf[4096];
    ssize_t n;
    while ((n = read(out_fd_, buf, sizeof(buf))) > 0) output_.append(buf, static_cast<size_t>(n));
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // True while the process has not exited or been killed.
  bool Alive() {
    if (pid_ <= 0 || reaped_) return false;
    if (waitpid(pid_, nullptr, WNOHANG) == 0) return true;
    reaped_ = true;
    return false;
  }

  const std::string& output() const { return output_; }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  bool reaped_ = false;
  std::string output_;
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
