// Process tests of recsys-cli against a real stack (recsys-retrieval,
// recsys-ranking, recsys-gateway on loopback, a trained toy bundle): exit codes
// (0 ok, 1 RPC error, 2 usage), status names in errors, --output=json for every
// answer and every error, arity checks, history titles, the unknown-user note
// delete-user, and ask (with the gateway's generator down: the answer is
// extractive, with a note).
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/bundle/registry.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "tests/testing/toy_registry.h"

namespace recsys {
namespace {

const std::string kBin = RECSYS_BIN_DIR;

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

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Starts `binary` with stdout to `out` and stderr to `err` (files); returns the pid.
pid_t Spawn(const std::string& binary, std::vector<std::string> args, const std::string& out,
            const std::string& err) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = out == err ? o : ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(o, STDOUT_FILENO);
    ::dup2(e, STDERR_FILENO);
    std::vector<char*> argv;
    std::string path = kBin + "/" + binary;
    argv.push_back(path.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(path.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

bool WaitServing(int port, const std::string& service) {
  auto channel = grpc::CreateChannel(absl::StrCat("localhost:", port),
                                     grpc::InsecureChannelCredentials());
  auto health = grpc::health::v1::Health::NewStub(channel);
  const absl::Time end = absl::Now() + absl::Seconds(60);
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

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

// One stack for the whole suite: the CLI never changes the served model, and
// each test uses its own users.
class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(testing::FreshTempDir("cli"));
    auto trained = testing::TrainToyBundle(*root_);
    ASSERT_TRUE(trained.ok()) << trained.status();
    ASSERT_TRUE(Registry(*root_ + "/registry", "toy").Promote(trained->version, true).ok());
    const int retrieval = FreePort(), ranking = FreePort();
    gateway_port_ = FreePort();
    const std::vector<std::string> common = {"--registry=" + *root_ + "/registry", "--name=toy",
                                             "--metrics_port=0", "--poll_interval=1s"};
    auto with = [&](std::vector<std::string> extra) {
      std::vector<std::string> args = common;
      args.insert(args.end(), extra.begin(), extra.end());
      return args;
    };
    pids_ = new std::vector<pid_t>;
    pids_->push_back(Spawn("recsys-retrieval", with({absl::StrCat("--port=", retrieval)}),
                           *root_ + "/retrieval.log", *root_ + "/retrieval.log"));
    pids_->push_back(Spawn("recsys-ranking", with({absl::StrCat("--port=", ranking)}),
                           *root_ + "/ranking.log", *root_ + "/ranking.log"));
    gateway_args_ = new std::vector<std::string>(
        with({absl::StrCat("--port=", gateway_port_),
              absl::StrCat("--retrieval=dns:///localhost:", retrieval),
              absl::StrCat("--ranking=dns:///localhost:", ranking),
              "--state_dir=" + *root_ + "/state", "--default_deadline=2s",
              absl::StrCat("--ask_generator_url=http://127.0.0.1:", FreePort(), "/answer")}));
    pids_->push_back(
        Spawn("recsys-gateway", *gateway_args_, *root_ + "/gateway.log", *root_ + "/gateway.log"));
    ASSERT_TRUE(WaitServing(retrieval, "recsys.v1.Retrieval"));
    ASSERT_TRUE(WaitServing(ranking, "recsys.v1.Ranking"));
    ASSERT_TRUE(WaitServing(gateway_port_, "recsys.v1.Recommender"))
        << ReadAll(*root_ + "/gateway.log");
  }
  static void TearDownTestSuite() {
    for (pid_t pid : *pids_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    delete pids_;
    delete root_;
    delete gateway_args_;
  }

  // Kills the gateway (SIGKILL: nothing flushed at exit) and starts it again
  // on the same state directory; true once it is SERVING.
  static bool RestartGateway() {
    ::kill(pids_->back(), SIGKILL);
    ::waitpid(pids_->back(), nullptr, 0);
    pids_->back() =
        Spawn("recsys-gateway", *gateway_args_, *root_ + "/gateway2.log", *root_ + "/gateway2.log");
    return WaitServing(gateway_port_, "recsys.v1.Recommender");
  }

  // Runs recsys-cli against the stack (unless args set --target themselves).
  static CliRun Cli(std::vector<std::string> args) {
    bool has_target = false;
    for (const std::string& a : args) has_target |= absl::StartsWith(a, "--target");
    if (!has_target) args.insert(args.begin(), absl::StrCat("--target=localhost:", gateway_port_));
    const std::string out = *root_ + "/cli.out", err = *root_ + "/cli.err";
    const pid_t pid = Spawn("recsys-cli", args, out, err);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return CliRun{WIFEXITED(status) ? WEXITSTATUS(status) : -1, ReadAll(out), ReadAll(err)};
  }

  // Parses `text` as one JSON object (fails the test otherwise).
  static google::protobuf::Struct Json(const std::string& text) {
    google::protobuf::Struct doc;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &doc).ok()) << text;
    return doc;
  }

  static std::string* root_;
  static std::vector<pid_t>* pids_;  // retrieval, ranking, gateway
  static std::vector<std::string>* gateway_args_;
  static int gateway_port_;
};

std::string* CliTest::root_ = nullptr;
std::vector<pid_t>* CliTest::pids_ = nullptr;
std::vector<std::string>* CliTest::gateway_args_ = nullptr;
int CliTest::gateway_port_ = 0;

// A bad request prints the status by name and exits 1; as JSON on stdout too.
TEST_F(CliTest, RpcErrorsNameTheStatus) {
  CliRun r = Cli({"--k=0", "recommend", "u1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(absl::StartsWith(r.err, "error: INVALID_ARGUMENT: k must be")) << r.err;

  r = Cli({"--k=0", "--output=json", "recommend", "u1"});
  EXPECT_EQ(r.code, 1);
  const auto doc = Json(r.out);
  const auto& error = doc.fields().at("error").struct_value().fields();
  EXPECT_EQ(error.at("code").string_value(), "INVALID_ARGUMENT");
  EXPECT_TRUE(absl::StartsWith(error.at("message").string_value(), "k must be"));

  r = Cli({"feedback", "u1", "no-such-item"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(absl::StartsWith(r.err, "error: NOT_FOUND: ")) << r.err;
}

// Nothing listening: UNAVAILABLE by name, exit 1, JSON when asked.
TEST_F(CliTest, UnreachableGatewayIsUnavailable) {
  const std::string target = absl::StrCat("--target=localhost:", FreePort());
  CliRun r = Cli({target, "--deadline=1s", "recommend", "u1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(absl::StartsWith(r.err, "error: UNAVAILABLE: ")) << r.err;
  r = Cli({target, "--deadline=1s", "--output=json", "health"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(Json(r.out).fields().at("error").struct_value().fields().at("code").string_value(),
            "UNAVAILABLE");
}

// Wrong argument counts, unknown commands and bad --output values exit 2.
TEST_F(CliTest, UsageErrorsExitTwo) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {},
           {"recommend"},
           {"recommend", "u1", "extra"},
           {"feedback", "u1"},
           {"feedback", "u1", "m1", "m2"},
           {"similar", "m1", "m2"},
           {"history"},
           {"history", "u1", "u2"},
           {"info", "extra"},
           {"health", "extra"},
           {"delete-user"},
           {"ask"},
           {"bogus"},
           {"--output=yaml", "info"}}) {
    const CliRun r = Cli(args);
    EXPECT_EQ(r.code, 2) << absl::StrJoin(args, " ") << "\n" << r.out << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, "usage")) << r.err;
  }
  const CliRun r = Cli({"--output=json", "recommend"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(Json(r.out).fields().at("error").struct_value().fields().at("code").string_value(),
            "USAGE");
}

// Successful calls exit 0; every command answers JSON with --output=json.
TEST_F(CliTest, JsonOutputEverywhere) {
  CliRun r = Cli({"--output=json", "health"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Json(r.out).fields().at("status").string_value(), "SERVING");
  r = Cli({"health"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "SERVING\n");
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"recommend", "u2"},
           {"search", "space", "robots"},
           {"similar", "m0"},
           {"history", "u2"},
           {"ask", "space", "robots"},
           {"info"}}) {
    std::vector<std::string> full = {"--output=json"};
    full.insert(full.end(), args.begin(), args.end());
    r = Cli(full);
    EXPECT_EQ(r.code, 0) << args[0] << ": " << r.err;
    Json(r.out);
  }
  // The deprecated spelling still works.
  r = Cli({"--json", "health"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(Json(r.out).fields().at("status").string_value(), "SERVING");
}

// history shows each event's title (served by GetHistory) beside its id.
TEST_F(CliTest, HistoryShowsTitles) {
  CliRun r = Cli({"feedback", "u3", "m4"});
  ASSERT_EQ(r.code, 0) << r.err;
  r = Cli({"history", "u3", "--k=100"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "m4")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "Movie 4, part 4")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "train")) << r.out;
  r = Cli({"--output=json", "history", "u3"});
  const auto doc = Json(r.out);
  const auto& events = doc.fields().at("events").list_value().values();
  ASSERT_FALSE(events.empty());
  const auto& last = events.rbegin()->struct_value().fields();
  EXPECT_EQ(last.at("item_id").string_value(), "m4");
  EXPECT_EQ(last.at("title").string_value(), "Movie 4, part 4");
  EXPECT_EQ(last.at("event").string_value(), "click");
}

// A user the store has never seen gets a cold-start answer noting that.
TEST_F(CliTest, UnknownUserIsNoted) {
  CliRun r = Cli({"recommend", "never-seen-user"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "PATH_COLD_START")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "note: unknown user")) << r.out;
  r = Cli({"recommend", "u4"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(absl::StrContains(r.out, "unknown user")) << r.out;
}

// delete-user erases seeded and logged history; feedback afterwards works;
// both hold after a gateway restart.
TEST_F(CliTest, DeleteUser) {
  ASSERT_EQ(Cli({"feedback", "u5", "m7"}).code, 0);
  CliRun r = Cli({"--output=json", "delete-user", "u5"});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  // int64 fields are JSON strings.
  EXPECT_GT(std::stoll(Json(r.out).fields().at("erased_events").string_value()), 1) << r.out;
  r = Cli({"--output=json", "history", "u5"});
  ASSERT_EQ(r.code, 0);
  EXPECT_FALSE(Json(r.out).fields().contains("events")) << r.out;
  r = Cli({"recommend", "u5"});
  EXPECT_TRUE(absl::StrContains(r.out, "unknown user")) << r.out;
  ASSERT_EQ(Cli({"feedback", "u5", "m8"}).code, 0);
  r = Cli({"--output=json", "history", "u5"});
  EXPECT_EQ(Json(r.out).fields().at("events").list_value().values_size(), 1) << r.out;

  // A restart replays the erasure over the re-seeded training history.
  ASSERT_TRUE(RestartGateway()) << ReadAll(*root_ + "/gateway2.log");
  r = Cli({"--output=json", "history", "u5"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto after = Json(r.out);
  ASSERT_EQ(after.fields().at("events").list_value().values_size(), 1) << r.out;
  EXPECT_EQ(after.fields()
                .at("events")
                .list_value()
                .values(0)
                .struct_value()
                .fields()
                .at("item_id")
                .string_value(),
            "m8");
}

// Event types are checked (unknown names refused, naming the accepted ones);
// a dislike keeps the item out of the user's recommendations.
TEST_F(CliTest, EventTypesAndDislike) {
  CliRun r = Cli({"feedback", "u6", "m0", "--event=bogus"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(absl::StartsWith(
      r.err, "error: INVALID_ARGUMENT: unknown event 'bogus'; accepted: click, view, like, "
             "purchase, dislike"))
      << r.err;
  r = Cli({"--output=json", "--k=5", "recommend", "u6"});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string top = Json(r.out)
                              .fields()
                              .at("items")
                              .list_value()
                              .values(0)
                              .struct_value()
                              .fields()
                              .at("item_id")
                              .string_value();
  ASSERT_EQ(Cli({"feedback", "u6", top, "--event=dislike"}).code, 0);
  r = Cli({"--output=json", "--k=20", "recommend", "u6"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(absl::StrContains(r.out, "\"" + top + "\"")) << top << "\n" << r.out;
  r = Cli({"--output=json", "history", "u6"});
  const auto doc = Json(r.out);
  const auto& last = doc.fields().at("events").list_value().values().rbegin()->struct_value();
  EXPECT_EQ(last.fields().at("event").string_value(), "dislike");
  EXPECT_EQ(last.fields().at("weight").number_value(), -1);
}

// ask prints the answer (catalogue text only), the notes (here: the
// gateway's generator is down) and the citations; --k bounds them; JSON
// carries every field; a bad k is the server's INVALID_ARGUMENT.
TEST_F(CliTest, AskAnswersFromTheCatalogue) {
  CliRun r = Cli({"ask", "scifi", "space", "robots", "--k=3"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "ask \"scifi space robots\"  mode extractive  model "))
      << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "  note: generator failed (connect_error: ")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "Best matches for \"scifi space robots\": Movie ")) << r.out;
  int cited = 0;
  for (absl::string_view line : absl::StrSplit(r.out, '\n')) {
    // The categories column, then which field matched.
    cited += absl::EndsWith(line, absl::StrFormat(" %-30s %s", "SciFi", "categories"));
  }
  EXPECT_EQ(cited, 3) << r.out;

  r = Cli({"--output=json", "ask", "--k=2", "romance"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto doc = Json(r.out);
  EXPECT_EQ(doc.fields().at("mode").string_value(), "extractive");
  EXPECT_FALSE(doc.fields().at("model_version").string_value().empty());
  EXPECT_TRUE(absl::StartsWith(doc.fields().at("answer").string_value(), "Best matches for"));
  const auto& citations = doc.fields().at("citations").list_value().values();
  ASSERT_EQ(citations.size(), 2);
  for (const auto& c : citations) {
    const auto& f = c.struct_value().fields();
    EXPECT_TRUE(absl::StartsWith(f.at("item_id").string_value(), "m"));
    EXPECT_TRUE(absl::StartsWith(f.at("title").string_value(), "Movie "));
    EXPECT_EQ(f.at("snippet").string_value(), "Romance");
    EXPECT_GT(f.at("score").number_value(), 0);
  }
  EXPECT_EQ(doc.fields().at("notes").list_value().values_size(), 1);

  r = Cli({"ask", "space", "--k=21"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(absl::StartsWith(r.err, "error: INVALID_ARGUMENT: k must be in 0..20")) << r.err;
}

}  // namespace
}  // namespace recsys
