// The real recsys-retrieval, recsys-ranking and recsys-gateway processes with
// --log_format=json: every stderr line is a JSON object (gRPC's own lines
// included), and one Recommend's request id and trace id appear in the access
// lines of all three services, the trace's spans chained hop by hop.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/bundle/registry.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "recsys/v1/recommender.grpc.pb.h"
#include "tests/testing/toy_registry.h"

namespace recsys {
namespace {

const std::string kBin = RECSYS_BIN_DIR;
constexpr char kTraceId[] = "0af7651916cd43dd8448eb211c80319c";
constexpr char kTraceparent[] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

// One of our binaries with stderr (only) appended to `log`; SIGKILLed on
// destruction unless stopped.
class Process {
 public:
  Process(const std::string& binary, std::vector<std::string> args, const std::string& log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setenv("GRPC_VERBOSITY", "debug", 1);  // plenty of gRPC's own lines
      const int err = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      const int out = ::open((log + ".stdout").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(out, STDOUT_FILENO);
      ::dup2(err, STDERR_FILENO);
      std::string path = kBin + "/" + binary;
      std::vector<char*> argv{path.data()};
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(path.c_str(), argv.data());
      ::_exit(127);
    }
  }
  ~Process() { Stop(SIGKILL); }
  void Stop(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

bool WaitServing(int port, const std::string& service) {
  auto health = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
      absl::StrCat("localhost:", port), grpc::InsecureChannelCredentials()));
  const absl::Time end = absl::Now() + absl::Seconds(30);
  while (absl::Now() < end) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(500)));
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    if (health->Check(&ctx, req, &resp).ok() &&
        resp.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      return true;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string Str(const google::protobuf::Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? "" : it->second.string_value();
}

class JsonLogs : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::FreshTempDir("json_logs");
    auto trained = testing::TrainToyBundle(root_);
    ASSERT_TRUE(trained.ok()) << trained.status();
    ASSERT_TRUE(Registry(root_ + "/registry", "toy").Promote(trained->version, true).ok());
    const int retrieval = FreePort(), ranking = FreePort();
    gateway_port_ = FreePort();
    auto common = [&](int port) {
      return std::vector<std::string>{"--registry=" + root_ + "/registry", "--name=toy",
                                      "--metrics_port=0", "--poll_interval=1s",
                                      "--log_format=json", absl::StrCat("--port=", port)};
    };
    procs_["retrieval"] =
        std::make_unique<Process>("recsys-retrieval", common(retrieval), Log("retrieval"));
    procs_["ranking"] =
        std::make_unique<Process>("recsys-ranking", common(ranking), Log("ranking"));
    auto args = common(gateway_port_);
    args.push_back(absl::StrCat("--retrieval=dns:///localhost:", retrieval));
    args.push_back(absl::StrCat("--ranking=dns:///localhost:", ranking));
    args.push_back("--state_dir=" + root_ + "/state");
    args.push_back("--default_deadline=2s");
    procs_["gateway"] = std::make_unique<Process>("recsys-gateway", args, Log("gateway"));
    ASSERT_TRUE(WaitServing(retrieval, "recsys.v1.Retrieval"));
    ASSERT_TRUE(WaitServing(ranking, "recsys.v1.Ranking"));
    ASSERT_TRUE(WaitServing(gateway_port_, "recsys.v1.Recommender"));
    stub_ = v1::Recommender::NewStub(grpc::CreateChannel(
        absl::StrCat("localhost:", gateway_port_), grpc::InsecureChannelCredentials()));
  }

  std::string Log(const std::string& name) { return root_ + "/" + name + ".log"; }

  // Every line of the process's stderr, parsed; a line that is not a JSON
  // object fails the test.
  std::vector<google::protobuf::Struct> Lines(const std::string& name) {
    std::vector<google::protobuf::Struct> out;
    for (absl::string_view line : absl::StrSplit(ReadFile(Log(name)), '\n', absl::SkipEmpty())) {
      google::protobuf::Struct parsed;
      const auto status =
          google::protobuf::util::JsonStringToMessage(std::string(line), &parsed);
      EXPECT_TRUE(status.ok()) << name << ": not JSON: " << line;
      out.push_back(std::move(parsed));
    }
    return out;
  }

  grpc::Status Recommend(const std::string& request_id, const std::string& traceparent, int k,
                         v1::RecommendResponse* resp, std::string* returned_id,
                         const std::string& user = "u0") {
    v1::RecommendRequest req;
    req.set_user_id(user);
    req.set_k(k);
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(3)));
    if (!request_id.empty()) ctx.AddMetadata("x-request-id", request_id);
    if (!traceparent.empty()) ctx.AddMetadata("traceparent", traceparent);
    grpc::Status status = stub_->Recommend(&ctx, req, resp);
    const auto& md = ctx.GetServerInitialMetadata();
    auto it = md.find("x-request-id");
    if (it != md.end()) *returned_id = std::string(it->second.data(), it->second.size());
    return status;
  }

  std::string root_;
  int gateway_port_ = 0;
  std::map<std::string, std::unique_ptr<Process>> procs_;
  std::unique_ptr<v1::Recommender::Stub> stub_;
};

TEST_F(JsonLogs, RequestIdAndTraceReachEveryServicesAccessLog) {
  v1::RecommendResponse resp;
  std::string returned;
  ASSERT_TRUE(Recommend("test-req-123", kTraceparent, 5, &resp, &returned).ok());
  EXPECT_EQ(resp.path(), v1::PATH_FULL);
  EXPECT_EQ(returned, "test-req-123");
  // Without one the server makes one up and still returns it; errors return it too.
  std::string generated;
  ASSERT_TRUE(Recommend("", "", 5, &resp, &generated).ok());
  EXPECT_EQ(generated.size(), 32u);
  std::string bad_id;
  EXPECT_EQ(Recommend("test-bad-1", "00-garbage", 0, &resp, &bad_id).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(bad_id, "test-bad-1");
  // Ranking down: a degraded answer (u1 has nothing cached), logged with its reason.
  procs_["ranking"]->Stop(SIGKILL);
  std::string degraded_id;
  ASSERT_TRUE(Recommend("test-degraded", "", 5, &resp, &degraded_id, "u1").ok());
  EXPECT_EQ(resp.path(), v1::PATH_RETRIEVAL_ONLY);
  // SIGTERM: the shutdown lines must be JSON too.
  for (auto& [name, proc] : procs_) proc->Stop(SIGTERM);

  std::map<std::string, google::protobuf::Struct> access;  // service -> its test-req-123 line
  bool saw_grpc_line = false, saw_bad = false, saw_degraded = false;
  for (const std::string name : {"retrieval", "ranking", "gateway"}) {
    const auto lines = Lines(name);
    EXPECT_GT(lines.size(), 3u) << name;
    for (const auto& line : lines) {
      for (const char* key : {"ts", "level", "msg", "file"}) {
        EXPECT_FALSE(Str(line, key).empty()) << name << " line without " << key;
      }
      EXPECT_TRUE(line.fields().contains("line"));
      if (Str(line, "component") == "grpc") saw_grpc_line = true;
      if (Str(line, "msg") != "access") continue;
      if (Str(line, "request_id") == "test-req-123") {
        EXPECT_EQ(access.count(name), 0u) << name << " logged the call twice";
        access[name] = line;
      }
      if (Str(line, "request_id") == "test-bad-1") {
        saw_bad = true;
        EXPECT_EQ(name, "gateway");
        EXPECT_EQ(Str(line, "code"), "INVALID_ARGUMENT");
        EXPECT_EQ(Str(line, "trace_id").size(), 32u);  // invalid traceparent: a new trace
        EXPECT_NE(Str(line, "trace_id"), kTraceId);
      }
      if (Str(line, "request_id") == "test-degraded" && name == "gateway") {
        saw_degraded = true;
        EXPECT_EQ(Str(line, "level"), "WARNING");
        EXPECT_EQ(Str(line, "path"), "retrieval_only");
        EXPECT_EQ(Str(line, "degraded_reason"), "ranking:UNAVAILABLE");
      }
    }
  }
  EXPECT_TRUE(saw_bad);
  EXPECT_TRUE(saw_degraded);
  EXPECT_TRUE(saw_grpc_line) << "no gRPC log line routed through our logger";
  ASSERT_EQ(access.size(), 3u);
  const auto& gateway = access["gateway"];
  EXPECT_EQ(Str(gateway, "method"), "/recsys.v1.Recommender/Recommend");
  EXPECT_EQ(Str(gateway, "code"), "OK");
  EXPECT_EQ(Str(gateway, "path"), "full");
  EXPECT_EQ(Str(gateway, "parent_span_id"), "b7ad6b7169203331");
  EXPECT_FALSE(Str(gateway, "peer").empty());
  EXPECT_TRUE(gateway.fields().at("latency_ms").has_number_value());
  for (const auto& [name, line] : access) {
    EXPECT_EQ(Str(line, "trace_id"), kTraceId) << name;
    EXPECT_EQ(Str(line, "span_id").size(), 16u) << name;
  }
  // Each backend's span is a child of the gateway's.
  EXPECT_EQ(Str(access["retrieval"], "method"), "/recsys.v1.Retrieval/Retrieve");
  EXPECT_EQ(Str(access["retrieval"], "parent_span_id"), Str(gateway, "span_id"));
  EXPECT_EQ(Str(access["ranking"], "method"), "/recsys.v1.Ranking/Rank");
  EXPECT_EQ(Str(access["ranking"], "parent_span_id"), Str(gateway, "span_id"));
}

}  // namespace
}  // namespace recsys
