// End-to-end: the real recsys-retrieval, recsys-ranking and recsys-gateway
// processes on loopback, a trained toy bundle, and a gRPC client.
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <fcntl.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/bundle/registry.h"
#include "common/bundle/registry_internal.h"
#include "common/io/sha256.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "recsys/v1/recommender.grpc.pb.h"
#include "tests/testing/toy_registry.h"

namespace recsys {
namespace {

const std::string kBin = RECSYS_BIN_DIR;

// A free TCP port on loopback (bound, read, released).
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

// A child process running one of our binaries; killed on destruction.
class Process {
 public:
  Process(const std::string& binary, std::vector<std::string> args, const std::string& log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      std::vector<char*> argv;
      std::string path = kBin + "/" + binary;
      argv.push_back(path.data());
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(path.c_str(), argv.data());
      ::_exit(127);
    }
  }
  ~Process() { Kill(SIGKILL); }
  void Kill(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    exit_status_ = status;
    pid_ = -1;
  }
  int exit_status() const { return exit_status_; }

 private:
  pid_t pid_ = -1;
  int exit_status_ = -1;
};

// Polls grpc.health.v1 for `service` until SERVING or the timeout. (Not the
// overall "" status: gRPC reports it SERVING for an instant at start-up,
// before the server marks itself NOT_SERVING until its bundle loads.)
bool WaitServing(int port, const std::string& service, absl::Duration timeout) {
  auto channel = grpc::CreateChannel(absl::StrCat("localhost:", port), grpc::InsecureChannelCredentials());
  auto health = grpc::health::v1::Health::NewStub(channel);
  const absl::Time end = absl::Now() + timeout;
  while (absl::Now() < end) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(500)));
    grpc::health::v1::HealthCheckResponse resp;
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    if (health->Check(&ctx, req, &resp).ok() &&
        resp.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      return true;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

class EndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::FreshTempDir("e2e");
    auto trained = testing::TrainToyBundle(root_);
    ASSERT_TRUE(trained.ok()) << trained.status();
    ASSERT_TRUE(Registry(root_ + "/registry", "toy").Promote(trained->version, true).ok());
    retrieval_port_ = FreePort();
    ranking_port_ = FreePort();
    gateway_port_ = FreePort();
    StartRetrieval();
    StartRanking();
    StartGateway();
    ASSERT_TRUE(WaitServing(retrieval_port_, "recsys.v1.Retrieval", absl::Seconds(30))) << Logs();
    ASSERT_TRUE(WaitServing(ranking_port_, "recsys.v1.Ranking", absl::Seconds(30))) << Logs();
    ASSERT_TRUE(WaitServing(gateway_port_, "recsys.v1.Recommender", absl::Seconds(30))) << Logs();
    stub_ = v1::Recommender::NewStub(grpc::CreateChannel(absl::StrCat("localhost:", gateway_port_),
                                                         grpc::InsecureChannelCredentials()));
  }

  std::vector<std::string> Common() {
    return {"--registry=" + root_ + "/registry", "--name=toy", "--metrics_port=0",
            "--poll_interval=1s"};
  }
  void StartRetrieval() {
    auto args = Common();
    args.push_back(absl::StrCat("--port=", retrieval_port_));
    retrieval_ = std::make_unique<Process>("recsys-retrieval", args, root_ + "/retrieval.log");
  }
  void StartRanking() {
    auto args = Common();
    args.push_back(absl::StrCat("--port=", ranking_port_));
    ranking_ = std::make_unique<Process>("recsys-ranking", args, root_ + "/ranking.log");
  }
  void StartGateway() {
    auto args = Common();
    args.push_back(absl::StrCat("--port=", gateway_port_));
    args.push_back(absl::StrCat("--retrieval=dns:///localhost:", retrieval_port_));
    args.push_back(absl::StrCat("--ranking=dns:///localhost:", ranking_port_));
    args.push_back("--state_dir=" + root_ + "/state");
    args.push_back("--default_deadline=2s");
    gateway_ = std::make_unique<Process>("recsys-gateway", args, root_ + "/gateway.log");
  }
  std::string Logs() {
    std::string out;
    for (const char* name : {"retrieval", "ranking", "gateway"}) {
      std::ifstream in(root_ + "/" + name + ".log");
      std::stringstream ss;
      ss << in.rdbuf();
      absl::StrAppend(&out, "--- ", name, " ---\n", ss.str().substr(0, 4000), "\n");
    }
    return out;
  }

  grpc::Status Recommend(const std::string& user, v1::RecommendResponse* resp, int k = 5) {
    v1::RecommendRequest req;
    req.set_user_id(user);
    req.set_k(k);
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(3)));
    return stub_->Recommend(&ctx, req, resp);
  }
  grpc::Status Feedback(const std::string& user, const std::string& item, uint64_t* seq = nullptr) {
    v1::FeedbackRequest req;
    req.set_user_id(user);
    req.set_item_id(item);
    v1::FeedbackResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(3)));
    grpc::Status s = stub_->Feedback(&ctx, req, &resp);
    if (seq) *seq = resp.sequence();
    return s;
  }
  std::vector<std::string> History(const std::string& user) {
    v1::GetHistoryRequest req;
    req.set_user_id(user);
    req.set_max_events(1000);
    v1::GetHistoryResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(3)));
    EXPECT_TRUE(stub_->GetHistory(&ctx, req, &resp).ok());
    std::vector<std::string> items;
    for (const auto& e : resp.events()) items.push_back(e.item_id());
    return items;
  }
  // Recommends until the answer takes `path` (backends reconnecting) or times out.
  v1::RecommendResponse RecommendUntil(const std::string& user, v1::Path path) {
    v1::RecommendResponse resp;
    const absl::Time end = absl::Now() + absl::Seconds(20);
    while (absl::Now() < end) {
      resp.Clear();
      if (Recommend(user, &resp).ok() && resp.path() == path) break;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return resp;
  }

  std::string root_;
  int retrieval_port_ = 0, ranking_port_ = 0, gateway_port_ = 0;
  std::unique_ptr<Process> retrieval_, ranking_, gateway_;
  std::unique_ptr<v1::Recommender::Stub> stub_;
};

// Sends `bytes` as the request of `method` at `port` and returns the status.
grpc::Status RawCall(int port, const std::string& method, const std::string& bytes) {
  auto channel = grpc::CreateCustomChannel(absl::StrCat("localhost:", port),
                                           grpc::InsecureChannelCredentials(), [] {
                                             grpc::ChannelArguments args;
                                             args.SetMaxSendMessageSize(64 << 20);
                                             return args;
                                           }());
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1), response;
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&ctx, method, grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
    status = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  return status;
}

std::string Repeated(const std::string& one, size_t bytes) {
  std::string out;
  out.reserve(bytes);
  while (out.size() + one.size() <= bytes) out += one;
  return out;
}

// Worst-case requests against every service: garbage, millions of empty
// repeated elements, oversized messages. Each is refused with a clear status
// before it is parsed, and the services keep answering.
TEST_F(EndToEnd, HostileRequestsAreRefusedBeforeParsing) {
  struct Case {
    int port;
    const char* method;
    std::string bytes;
    grpc::StatusCode code;
    const char* message;
  };
  const std::string k10("\x10\x0a", 2);
  const std::vector<Case> cases = {
      {gateway_port_, "/recsys.v1.Recommender/Recommend", "\xff\xff\xff\xff",
       grpc::StatusCode::INVALID_ARGUMENT, "undecodable request"},
      {gateway_port_, "/recsys.v1.Recommender/Recommend",
       k10 + Repeated(std::string("\x1a\x00", 2), 400 << 10), grpc::StatusCode::INVALID_ARGUMENT,
       "context_categories: more than 64"},
      {gateway_port_, "/recsys.v1.Recommender/Recommend",
       k10 + Repeated(std::string("\x3a\x00", 2), 400 << 10), grpc::StatusCode::INVALID_ARGUMENT,
       "extra_history: more than"},
      {gateway_port_, "/recsys.v1.Recommender/Recommend", std::string(4 << 20, 'x'),
       grpc::StatusCode::RESOURCE_EXHAUSTED, ""},
      {retrieval_port_, "/recsys.v1.Retrieval/Retrieve",
       Repeated(std::string("\x1a\x00", 2), 400 << 10), grpc::StatusCode::INVALID_ARGUMENT,
       "exclude_item_ids: more than"},
      {retrieval_port_, "/recsys.v1.Retrieval/Retrieve", "\x0a\x05\x22\x00",
       grpc::StatusCode::INVALID_ARGUMENT, "undecodable request"},
      {ranking_port_, "/recsys.v1.Ranking/Rank",
       std::string("\x18\x0a", 2) + Repeated(std::string("\x12\x00", 2), 800 << 10),
       grpc::StatusCode::INVALID_ARGUMENT, "candidates: more than"},
      {ranking_port_, "/recsys.v1.Ranking/Rank", std::string(8 << 20, 'x'),
       grpc::StatusCode::RESOURCE_EXHAUSTED, ""},
      // Padded with 100k unknown fields (number 99, varint), at the top and
      // inside a candidate's sources (a sub-message without a rule).
      {gateway_port_, "/recsys.v1.Recommender/Recommend",
       k10 + Repeated(std::string("\x98\x06\x01", 3), 300 << 10),
       grpc::StatusCode::INVALID_ARGUMENT, "fields this server does not know"},
      {retrieval_port_, "/recsys.v1.Retrieval/Retrieve",
       Repeated(std::string("\x98\x06\x01", 3), 300 << 10), grpc::StatusCode::INVALID_ARGUMENT,
       "fields this server does not know"},
      // Every other method is raw too: unknown fields and non-UTF-8 strings.
      {gateway_port_, "/recsys.v1.Recommender/GetModelInfo",
       Repeated(std::string("\x98\x06\x01", 3), 300 << 10), grpc::StatusCode::INVALID_ARGUMENT,
       "fields this server does not know"},
      {gateway_port_, "/recsys.v1.Recommender/Feedback", std::string("\x0a\x01\xff", 3),
       grpc::StatusCode::INVALID_ARGUMENT, "is not valid UTF-8"},
      {gateway_port_, "/recsys.v1.Recommender/Search",
       Repeated(std::string("\x98\x06\x01", 3), 300), grpc::StatusCode::INVALID_ARGUMENT,
       "fields this server does not know"},
      {retrieval_port_, "/recsys.v1.Retrieval/SimilarItems",
       Repeated(std::string("\x98\x06\x01", 3), 300), grpc::StatusCode::INVALID_ARGUMENT,
       "fields this server does not know"},
      // candidates { sources { 70 unknown fields } }: 210 + 3 bytes, 213 + 3.
      {ranking_port_, "/recsys.v1.Ranking/Rank",
       std::string("\x12\xd5\x01\x12\xd2\x01", 6) + Repeated(std::string("\x98\x06\x01", 3), 210),
       grpc::StatusCode::INVALID_ARGUMENT, "fields this server does not know"},
  };
  for (const Case& c : cases) {
    const grpc::Status s = RawCall(c.port, c.method, c.bytes);
    EXPECT_EQ(s.error_code(), c.code) << c.method << ": " << s.error_message();
    EXPECT_NE(s.error_message().find(c.message), std::string::npos)
        << c.method << ": " << s.error_message();
  }
  v1::RecommendResponse resp;
  ASSERT_TRUE(Recommend("u1", &resp).ok()) << Logs();
  EXPECT_EQ(resp.path(), v1::PATH_FULL);
}

// A hostile bundle (valid checksums, an array header claiming 2^35 elements)
// promoted while the services run: all three refuse it, stay up and keep
// serving the previous version.
TEST_F(EndToEnd, HostileBundlePromotedUnderServiceKeepsThePreviousVersion) {
  const Registry registry(root_ + "/registry", "toy");
  const std::string good = *registry.Production();
  const std::string forged_version = "29990101T000000Z-bad000";
  const std::string dir = registry.VersionDir(forged_version);
  std::filesystem::copy(registry.VersionDir(good), dir, std::filesystem::copy_options::recursive);
  const std::string file = dir + "/items.ids.arr";
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const uint64_t claim = uint64_t{1} << 35;
  std::memcpy(bytes.data() + 20, &claim, 8);  // the first dimension
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  auto manifest = ReadManifest(dir);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  manifest->set_version(forged_version);
  for (auto& f : *manifest->mutable_files()) {
    if (f.path() == "items.ids.arr") f.set_sha256(Sha256Hex(bytes));
  }
  auto json = registry_internal::ToJson(*manifest, /*pretty=*/true);
  ASSERT_TRUE(json.ok());
  {
    std::ofstream out(dir + "/" + kManifestFileName, std::ios::trunc);
    out << *json;
  }
  ASSERT_TRUE(registry.Promote(forged_version, /*force=*/true).ok());
  absl::SleepFor(absl::Seconds(3));  // three polls
  for (int i = 0; i < 10; ++i) {
    v1::RecommendResponse resp;
    ASSERT_TRUE(Recommend("u1", &resp).ok()) << Logs();
    EXPECT_EQ(resp.path(), v1::PATH_FULL) << Logs();
    EXPECT_EQ(resp.model_version(), good);
  }
  EXPECT_TRUE(WaitServing(gateway_port_, "recsys.v1.Recommender", absl::Seconds(1)));
  std::ifstream in(root_ + "/gateway.log");
  const std::string log((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(log.find("refusing bundle toy version " + forged_version), std::string::npos) << log;
}

// Full path, feedback reflected, degradation ladder, recovery.
TEST_F(EndToEnd, RecommendFeedbackAndDegradation) {
  v1::RecommendResponse first;
  ASSERT_TRUE(Recommend("u0", &first).ok()) << Logs();
  EXPECT_EQ(first.path(), v1::PATH_FULL) << Logs();
  EXPECT_FALSE(first.degraded());
  ASSERT_EQ(first.items_size(), 5);
  EXPECT_FALSE(first.model_version().empty());

  // Feedback on the top item: durable, in the history, and never recommended again.
  const std::string clicked = first.items(0).item_id();
  uint64_t seq = 0;
  ASSERT_TRUE(Feedback("u0", clicked, &seq).ok());
  EXPECT_GT(seq, 0u);
  EXPECT_EQ(History("u0").back(), clicked);
  v1::RecommendResponse after;
  ASSERT_TRUE(Recommend("u0", &after).ok());
  EXPECT_EQ(after.path(), v1::PATH_FULL);
  for (const auto& item : after.items()) EXPECT_NE(item.item_id(), clicked);

  // Unknown item → NOT_FOUND, empty user → INVALID_ARGUMENT; nothing logged.
  const size_t before = History("u0").size();
  EXPECT_EQ(Feedback("u0", "no-such-item").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Feedback("", clicked).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(History("u0").size(), before);
  v1::RecommendResponse bad;
  EXPECT_EQ(Recommend("u0", &bad, 0).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // The same request again: the exact answer cache returns the same answer.
  v1::RecommendResponse again;
  ASSERT_TRUE(Recommend("u0", &again).ok());
  EXPECT_EQ(again.SerializeAsString(), after.SerializeAsString());

  // Ranking down → retrieval order, degraded but OK (u1 was never answered,
  // so nothing is cached for it) ...
  ranking_->Kill(SIGKILL);
  v1::RecommendResponse no_ranking;
  ASSERT_TRUE(Recommend("u1", &no_ranking).ok());
  EXPECT_EQ(no_ranking.path(), v1::PATH_RETRIEVAL_ONLY);
  EXPECT_TRUE(no_ranking.degraded());
  EXPECT_EQ(no_ranking.items_size(), 5);
  // ... while u0's complete answer, still exact for its unchanged history, is served.
  v1::RecommendResponse cached;
  ASSERT_TRUE(Recommend("u0", &cached).ok());
  EXPECT_EQ(cached.SerializeAsString(), after.SerializeAsString());

  // Retrieval down too → the gateway's trending, still OK. Degraded answers
  // are never cached: u1 gets trending now.
  retrieval_->Kill(SIGKILL);
  v1::RecommendResponse none;
  ASSERT_TRUE(Recommend("u1", &none).ok());
  EXPECT_EQ(none.path(), v1::PATH_TRENDING_FALLBACK);
  EXPECT_TRUE(none.degraded());
  EXPECT_EQ(none.items_size(), 5);

  // Both back → the full path again.
  StartRetrieval();
  StartRanking();
  ASSERT_TRUE(WaitServing(retrieval_port_, "recsys.v1.Retrieval", absl::Seconds(30)));
  ASSERT_TRUE(WaitServing(ranking_port_, "recsys.v1.Ranking", absl::Seconds(30)));
  v1::RecommendResponse recovered = RecommendUntil("u1", v1::PATH_FULL);
  EXPECT_EQ(recovered.path(), v1::PATH_FULL) << Logs();
  EXPECT_FALSE(recovered.degraded());
}

// A gateway killed with SIGKILL after acknowledging N events has all N after restart.
TEST_F(EndToEnd, AcknowledgedFeedbackSurvivesSigkill) {
  const std::vector<std::string> seeded = History("u1");
  std::vector<std::string> acked;
  for (int i = 0; i < 25; ++i) {
    const std::string item = absl::StrCat("m", (i * 7) % 60);
    ASSERT_TRUE(Feedback("u1", item).ok());
    acked.push_back(item);
  }
  gateway_->Kill(SIGKILL);
  StartGateway();
  ASSERT_TRUE(WaitServing(gateway_port_, "recsys.v1.Recommender", absl::Seconds(30))) << Logs();
  const std::vector<std::string> history = History("u1");
  ASSERT_EQ(history.size(), seeded.size() + acked.size());
  EXPECT_TRUE(std::equal(acked.begin(), acked.end(), history.end() - acked.size()));
}

// SIGTERM drains and exits 0.
TEST_F(EndToEnd, SigtermExitsCleanly) {
  gateway_->Kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(gateway_->exit_status())) << Logs();
  EXPECT_EQ(WEXITSTATUS(gateway_->exit_status()), 0) << Logs();
}

}  // namespace
}  // namespace recsys
