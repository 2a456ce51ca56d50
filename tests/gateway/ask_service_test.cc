// Ask end to end in process: a real retrieval server and real gateway servers
// on loopback, over a trained toy bundle, with a fake generator
// (tests/gateway/fake_http_server.h) that answers, is down, hangs, or is busy.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/bundle/registry.h"
#include "common/log.h"
#include "gateway/gateway_server.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "retrieval_service/service.h"
#include "tests/gateway/fake_http_server.h"
#include "tests/testing/toy_registry.h"

namespace recsys::gateway {
namespace {

using recsys::testing::ClosedPort;
using recsys::testing::FakeHttpServer;

// One gateway with its own metrics and store; destroyed stub first.
struct Gateway {
  std::unique_ptr<ServerMetrics> metrics;
  std::unique_ptr<EmbeddedUserStore> store;
  std::unique_ptr<GatewayServer> server;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Recommender::Stub> stub;

  // The value of recsys_gateway_ask_generator_total{outcome="<outcome>"}.
  double GeneratorCount(const std::string& outcome) const {
    const std::string text = metrics->SerializeText();
    const std::string series =
        absl::StrCat("recsys_gateway_ask_generator_total{outcome=\"", outcome, "\"} ");
    const size_t at = text.find(series);
    return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size()));
  }
};

// A generator that answers with the passages' ids, e.g. "generated from 260,1214".
FakeHttpServer::Reply Generated(const FakeHttpServer::Request& request) {
  google::protobuf::Struct doc;
  if (!google::protobuf::util::JsonStringToMessage(request.body, &doc).ok()) {
    return {FakeHttpServer::Response(400, "{}")};
  }
  std::vector<std::string> ids;
  for (const auto& p : doc.fields().at("passages").list_value().values()) {
    ids.push_back(p.struct_value().fields().at("item_id").string_value());
  }
  return {FakeHttpServer::Response(
      200, absl::StrCat(R"({"answer": "generated from )", absl::StrJoin(ids, ","), R"("})"))};
}

FakeHttpServer::Reply Silent(const FakeHttpServer::Request&) {
  FakeHttpServer::Reply r;
  r.hang = true;
  return r;
}

v1::AskRequest Question(const std::string& question, int k = 0) {
  v1::AskRequest r;
  r.set_question(question);
  r.set_k(k);
  return r;
}

// One toy bundle and one retrieval server for the suite; a gateway per test.
class AskServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(recsys::testing::FreshTempDir("ask_service"));
    const LogSeverity old = MinLogSeverity();
    SetMinLogSeverity(LogSeverity::kWarning);  // the trainer's leaderboard
    absl::StatusOr<offline::TrainResult> trained = recsys::testing::TrainToyBundle(*root_);
    SetMinLogSeverity(old);
    ASSERT_TRUE(trained.ok()) << trained.status();
    version_ = new std::string(trained->version);
    ASSERT_TRUE(Registry(*root_ + "/registry", "toy").Promote(trained->version, true).ok());
    absl::StatusOr<std::shared_ptr<const ModelBundle>> bundle =
        ModelBundle::Load(trained->bundle_dir, BundleParts::kGateway);
    ASSERT_TRUE(bundle.ok()) << bundle.status();
    bundle_ = new std::shared_ptr<const ModelBundle>(*bundle);
    retrieval::RetrievalServerOptions o;
    o.server.address = "127.0.0.1:0";
    o.bundle.registry_root = *root_ + "/registry";
    o.bundle.model_name = "toy";
    o.start_polling = false;
    absl::StatusOr<std::unique_ptr<retrieval::RetrievalServer>> server =
        retrieval::RetrievalServer::Start(std::move(o), nullptr);
    ASSERT_TRUE(server.ok()) << server.status();
    ASSERT_TRUE((*server)->holder().PollOnce().ok());
    retrieval_ = server->release();
  }

  static void TearDownTestSuite() {
    delete retrieval_;
    delete bundle_;
    delete version_;
    std::filesystem::remove_all(*root_);
    delete root_;
  }

  // A gateway on the toy registry with `service` options; with `load`, its
  // bundle is loaded before it returns.
  static Gateway StartGateway(GatewayOptions service = {}, bool load = true) {
    static int count = 0;
    Gateway g;
    g.metrics = ServerMetrics::CreateWithoutExposer();
    EmbeddedUserStoreOptions store_options;
    store_options.state_dir = absl::StrCat(*root_, "/state", ++count);
    store_options.wal.fsync = false;
    auto store = EmbeddedUserStore::Open(store_options);
    EXPECT_TRUE(store.ok()) << store.status();
    g.store = *std::move(store);
    GatewayServerOptions o;
    o.server.address = "127.0.0.1:0";
    o.bundle.registry_root = *root_ + "/registry";
    o.bundle.model_name = "toy";
    o.start_polling = false;
    o.service = std::move(service);
    o.retrieval = grpc::CreateChannel(absl::StrCat("127.0.0.1:", retrieval_->port()),
                                      grpc::InsecureChannelCredentials());
    o.ranking = grpc::CreateChannel("unix:" + *root_ + "/no-ranking.sock",
                                    grpc::InsecureChannelCredentials());
    auto server = GatewayServer::Start(std::move(o), g.store.get(), g.metrics.get());
    EXPECT_TRUE(server.ok()) << server.status();
    g.server = *std::move(server);
    if (load) {
      EXPECT_TRUE(g.server->holder().PollOnce().ok());
    }
    g.channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", g.server->port()),
                                    grpc::InsecureChannelCredentials());
    g.stub = v1::Recommender::NewStub(g.channel);
    return g;
  }

  static GatewayOptions WithGenerator(const std::string& url,
                                      absl::Duration timeout = absl::Seconds(10)) {
    GatewayOptions o;
    o.ask_generator = *ParseHttpUrl(url);
    o.ask_generator_timeout = timeout;
    return o;
  }

  static grpc::Status Ask(Gateway& g, const v1::AskRequest& request, v1::AskResponse* response) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return g.stub->Ask(&ctx, request, response);
  }

  // Every citation is a catalogue item with the catalogue's title and
  // categories, and its snippet is one of those two fields.
  static void ExpectCitationsFromCatalogue(const v1::AskResponse& r) {
    const Catalogue& c = (*bundle_)->catalogue;
    for (const v1::AskCitation& cited : r.citations()) {
      const std::optional<int32_t> item = c.ids.Find(cited.item_id());
      ASSERT_TRUE(item.has_value()) << cited.item_id();
      EXPECT_EQ(cited.title(), c.titles[*item]);
      std::vector<std::string> categories;
      for (int32_t cat : c.item_categories(*item)) categories.push_back(c.category_names[cat]);
      EXPECT_EQ(std::vector<std::string>(cited.categories().begin(), cited.categories().end()),
                categories);
      EXPECT_TRUE(cited.snippet() == cited.title() ||
                  cited.snippet() == absl::StrJoin(categories, ", "))
          << cited.snippet();
    }
  }

  static std::string* root_;
  static std::string* version_;
  static std::shared_ptr<const ModelBundle>* bundle_;
  static retrieval::RetrievalServer* retrieval_;
};

std::string* AskServiceTest::root_ = nullptr;
std::string* AskServiceTest::version_ = nullptr;
std::shared_ptr<const ModelBundle>* AskServiceTest::bundle_ = nullptr;
retrieval::RetrievalServer* AskServiceTest::retrieval_ = nullptr;

// Without a generator: an extractive answer citing catalogue items, the ones
// whose category the question names first; a title's words find their item
// among the content search's candidates.
TEST_F(AskServiceTest, ExtractiveAnswerCitesCatalogueItems) {
  Gateway g = StartGateway();
  v1::AskResponse r;
  grpc::Status s = Ask(g, Question("scifi with space robots"), &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(r.mode(), "extractive");
  EXPECT_EQ(r.model_version(), *version_);
  ASSERT_EQ(r.citations_size(), kDefaultAskK);
  ExpectCitationsFromCatalogue(r);
  EXPECT_TRUE(absl::StartsWith(r.answer(), "Best matches for \"scifi with space robots\": "))
      << r.answer();
  for (const v1::AskCitation& cited : r.citations()) {
    EXPECT_EQ(absl::StrJoin(cited.categories(), ","), "SciFi") << cited.item_id();
    EXPECT_EQ(cited.snippet(), "SciFi");
    EXPECT_TRUE(absl::StrContains(r.answer(), cited.title() + " [SciFi]")) << r.answer();
  }
  EXPECT_TRUE(r.notes().empty()) << r.notes(0);

  r.Clear();
  s = Ask(g, Question("Movie 12, part 5", 20), &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_GE(r.citations_size(), 1);
  ExpectCitationsFromCatalogue(r);
  EXPECT_EQ(r.citations(0).item_id(), "m12");
  EXPECT_EQ(r.citations(0).snippet(), "Movie 12, part 5");
}

// A question none of whose words is in a title or category still cites the
// content search's items, and says so.
TEST_F(AskServiceTest, NoLexicalMatchIsNoted) {
  Gateway g = StartGateway();
  v1::AskResponse r;
  const grpc::Status s = Ask(g, Question("laser galaxy", 3), &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(r.mode(), "extractive");
  ASSERT_EQ(r.citations_size(), 3);
  ExpectCitationsFromCatalogue(r);
  EXPECT_TRUE(absl::StartsWith(r.answer(), "Closest catalogue items to \"laser galaxy\""))
      << r.answer();
  ASSERT_EQ(r.notes_size(), 1);
  EXPECT_TRUE(absl::StrContains(r.notes(0), "no word of the question matched")) << r.notes(0);
}

// With a generator: its answer, mode "generator", the same citations as the
// extractive answer; it was sent the question and the cited passages.
TEST_F(AskServiceTest, GeneratorWritesTheAnswer) {
  FakeHttpServer generator(Generated);
  Gateway plain = StartGateway();
  Gateway g = StartGateway(WithGenerator(generator.url()));
  v1::AskResponse extractive, generated;
  ASSERT_TRUE(Ask(plain, Question("romance wedding", 4), &extractive).ok());
  const grpc::Status s = Ask(g, Question("romance wedding", 4), &generated);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(generated.mode(), "generator");
  EXPECT_EQ(generated.model_version(), *version_);
  ASSERT_EQ(generated.citations_size(), 4);
  std::vector<std::string> ids;
  for (int i = 0; i < generated.citations_size(); ++i) {
    ids.push_back(generated.citations(i).item_id());
    EXPECT_EQ(generated.citations(i).SerializeAsString(),
              extractive.citations(i).SerializeAsString());
  }
  EXPECT_EQ(generated.answer(), "generated from " + absl::StrJoin(ids, ","));
  EXPECT_TRUE(generated.notes().empty());
  ASSERT_EQ(generator.requests(), 1);
  google::protobuf::Struct sent;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(generator.last().body, &sent).ok());
  EXPECT_EQ(sent.fields().at("question").string_value(), "romance wedding");
  const auto& first = sent.fields().at("passages").list_value().values(0).struct_value().fields();
  EXPECT_EQ(first.at("title").string_value(), generated.citations(0).title());
  EXPECT_EQ(first.at("text").string_value(), generated.citations(0).title() + " [Romance]");
  EXPECT_EQ(g.GeneratorCount("ok"), 1);
  EXPECT_EQ(g.GeneratorCount("connect_error"), 0);
}

// Generator down, or silent past its timeout: the extractive answer with a
// note naming the failure, and the outcome counted.
TEST_F(AskServiceTest, GeneratorFailureFallsBackToExtractive) {
  Gateway down = StartGateway(WithGenerator(absl::StrCat("http://127.0.0.1:", ClosedPort(), "/")));
  v1::AskResponse r;
  grpc::Status s = Ask(down, Question("crime detective"), &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(r.mode(), "extractive");
  EXPECT_EQ(r.citations_size(), kDefaultAskK);
  EXPECT_TRUE(absl::StartsWith(r.answer(), "Best matches for")) << r.answer();
  ASSERT_EQ(r.notes_size(), 1);
  EXPECT_TRUE(absl::StartsWith(r.notes(0), "generator failed (connect_error: ")) << r.notes(0);
  EXPECT_TRUE(absl::EndsWith(r.notes(0), "; the answer is extractive")) << r.notes(0);
  EXPECT_EQ(down.GeneratorCount("connect_error"), 1);

  FakeHttpServer silent(Silent);
  Gateway slow = StartGateway(WithGenerator(silent.url(), absl::Milliseconds(300)));
  r.Clear();
  s = Ask(slow, Question("crime detective"), &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(r.mode(), "extractive");
  ASSERT_EQ(r.notes_size(), 1);
  EXPECT_TRUE(absl::StartsWith(r.notes(0), "generator failed (timeout: no complete reply within"))
      << r.notes(0);
  EXPECT_EQ(slow.GeneratorCount("timeout"), 1);
}

// One generator thread and a queue of one: with the thread busy, of two more
// calls one waits and one is refused with RESOURCE_EXHAUSTED.
TEST_F(AskServiceTest, FullGeneratorQueueIsResourceExhausted) {
  absl::Notification first_arrived;
  std::atomic<int> arrived{0};
  FakeHttpServer silent([&](const FakeHttpServer::Request& request) {
    if (arrived.fetch_add(1) == 0) first_arrived.Notify();
    return Silent(request);
  });
  GatewayOptions o = WithGenerator(silent.url(), absl::Milliseconds(500));
  o.ask_generator_workers = 1;
  o.ask_generator_queue = 1;
  Gateway g = StartGateway(o);
  absl::Mutex mu;
  std::vector<grpc::Status> done;
  struct Call {
    grpc::ClientContext ctx;
    v1::AskRequest request = Question("romance");
    v1::AskResponse response;
  };
  std::vector<std::unique_ptr<Call>> calls;
  auto start = [&] {
    calls.push_back(std::make_unique<Call>());
    Call* c = calls.back().get();
    c->ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    g.stub->async()->Ask(&c->ctx, &c->request, &c->response, [&](grpc::Status s) {
      absl::MutexLock lock(&mu);
      done.push_back(std::move(s));
    });
  };
  start();
  first_arrived.WaitForNotification();  // the one thread is now busy
  start();
  start();
  auto all_done = [&] { return done.size() == 3; };
  absl::MutexLock lock(&mu);
  mu.Await(absl::Condition(&all_done));
  int ok = 0, exhausted = 0;
  for (const grpc::Status& s : done) {
    ok += s.ok();
    if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++exhausted;
      EXPECT_EQ(s.error_message(), "Ask generator queue full");
    }
  }
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(exhausted, 1);
}

// Bad requests: INVALID_ARGUMENT with the reason, a question that is not
// UTF-8 included (protobuf refuses it while parsing: the raw method says so).
TEST_F(AskServiceTest, BadRequestsAreInvalidArgument) {
  Gateway g = StartGateway();
  const std::vector<std::pair<v1::AskRequest, std::string>> cases = {
      {Question(""), "question must not be empty"},
      {Question(std::string(kMaxQuestionBytes + 1, 'q')), "question of 1025 bytes (at most 1024)"},
      {Question("   "), "question must not be only white space"},
      {Question("space", -1), "k must be in 0..20 (0 = 5), got -1"},
      {Question("space", 21), "k must be in 0..20 (0 = 5), got 21"},
  };
  for (const auto& [request, message] : cases) {
    v1::AskResponse r;
    const grpc::Status s = Ask(g, request, &r);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << message;
    EXPECT_EQ(s.error_message(), message);
  }
  // AskRequest{question: "caf\xe9"} on the wire: field 1, length 4.
  const std::string bytes(
      "\x0a\x04"
      "caf\xe9",
      6);
  grpc::GenericStub stub(g.channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1), response;
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&ctx, "/recsys.v1.Recommender/Ask", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "undecodable request: question must be valid UTF-8");
}

// Before the first bundle: UNAVAILABLE, like every call that needs the
// catalogue; the same gateway answers once a bundle loads.
TEST_F(AskServiceTest, UnavailableBeforeTheFirstBundle) {
  Gateway g = StartGateway({}, /*load=*/false);
  v1::AskResponse r;
  grpc::Status s = Ask(g, Question("space"), &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s.error_message(), "no model bundle loaded yet");
  ASSERT_TRUE(g.server->holder().PollOnce().ok());
  s = Ask(g, Question("space"), &r);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

// Retrieval down: the call fails with its status, named as retrieval's.
TEST_F(AskServiceTest, RetrievalDownIsUnavailable) {
  GatewayServerOptions o;
  auto metrics = ServerMetrics::CreateWithoutExposer();
  EmbeddedUserStoreOptions store_options;
  store_options.state_dir = *root_ + "/state-no-retrieval";
  store_options.wal.fsync = false;
  auto store = EmbeddedUserStore::Open(store_options);
  ASSERT_TRUE(store.ok()) << store.status();
  o.server.address = "127.0.0.1:0";
  o.bundle.registry_root = *root_ + "/registry";
  o.bundle.model_name = "toy";
  o.start_polling = false;
  o.retrieval = grpc::CreateChannel("unix:" + *root_ + "/no-retrieval.sock",
                                    grpc::InsecureChannelCredentials());
  o.ranking = o.retrieval;
  auto server = GatewayServer::Start(std::move(o), store->get(), metrics.get());
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->holder().PollOnce().ok());
  auto stub = v1::Recommender::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::AskResponse r;
  const grpc::Status s = stub->Ask(&ctx, Question("space"), &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "retrieval Search: ")) << s.error_message();
}

}  // namespace
}  // namespace recsys::gateway
