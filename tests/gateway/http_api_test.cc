// The gateway's HTTP/JSON face: the OpenAPI description against the route
// table and the proto messages, the status mapping and error bodies, and the
// API on a real in-process gateway server (HTTP server on loopback, gRPC
// in-process channel): readiness, JSON answers, errors, tokens, metrics.
#include "gateway/http/http_api.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/bundle/registry.h"
#include "common/log.h"
#include "common/server/http_server.h"
#include "common/server/metrics.h"
#include "gateway/gateway_server.h"
#include "gateway/http/web_assets.h"
#include "grpcpp/grpcpp.h"
#include "tests/common/server/raw_http_client.h"
#include "tests/testing/toy_registry.h"

namespace recsys::gateway {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;
using recsys::testing::BodyOf;
using recsys::testing::Exchange;
using recsys::testing::StatusOf;

Struct ParseJson(absl::string_view text) {
  Struct out;
  const auto status = google::protobuf::util::JsonStringToMessage(std::string(text), &out);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << text.substr(0, 500);
  return out;
}

const Struct& OpenApi() {
  static const Struct* spec = [] {
    const WebAsset* asset = FindWebAsset("/openapi.json");
    EXPECT_NE(asset, nullptr);
    return new Struct(asset == nullptr ? Struct() : ParseJson(std::string(asset->body)));
  }();
  return *spec;
}

const Struct& Field(const Struct& s, const std::string& name) {
  static const Struct empty;
  auto it = s.fields().find(name);
  return it == s.fields().end() ? empty : it->second.struct_value();
}

// The OpenAPI paths and the route table are the same set of (method, path).
TEST(OpenApiTest, DescribesExactlyTheRoutes) {
  std::set<std::string> described;
  for (const auto& [path, methods] : Field(OpenApi(), "paths").fields()) {
    for (const auto& [method, op] : methods.struct_value().fields()) {
      described.insert(absl::StrCat(absl::AsciiStrToUpper(method), " ", path));
    }
  }
  std::set<std::string> served;
  for (const HttpRoute& route : HttpRoutes()) served.insert(absl::StrCat(route.method, " ", route.pattern));
  EXPECT_EQ(described, served);
  EXPECT_EQ(OpenApi().fields().at("openapi").string_value(), "3.0.3");
}

// The JSON type a proto field has in protobuf's canonical mapping.
std::string JsonTypeOf(const google::protobuf::FieldDescriptor& f) {
  using FD = google::protobuf::FieldDescriptor;
  switch (f.cpp_type()) {
    case FD::CPPTYPE_INT32:
    case FD::CPPTYPE_UINT32:
      return "integer";
    case FD::CPPTYPE_INT64:
    case FD::CPPTYPE_UINT64:
    case FD::CPPTYPE_STRING:
    case FD::CPPTYPE_ENUM:
      return "string";
    case FD::CPPTYPE_FLOAT:
    case FD::CPPTYPE_DOUBLE:
      return "number";
    case FD::CPPTYPE_BOOL:
      return "boolean";
    case FD::CPPTYPE_MESSAGE:
      return "object";
  }
  return "?";
}

// Every schema named after a recsys.v1 message lists exactly its fields (JSON
// names) with their JSON types, and enum values that exist.
TEST(OpenApiTest, SchemasMatchTheProtoMessages) {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  int checked = 0;
  for (const auto& [name, schema_value] : Field(Field(OpenApi(), "components"), "schemas").fields()) {
    const google::protobuf::Descriptor* message = pool->FindMessageTypeByName("recsys.v1." + name);
    if (message == nullptr) {
      EXPECT_EQ(name, "Error") << "schema " << name << " names no recsys.v1 message";
      continue;
    }
    ++checked;
    const Struct& properties = Field(schema_value.struct_value(), "properties");
    std::set<std::string> fields;
    for (int i = 0; i < message->field_count(); ++i) {
      const google::protobuf::FieldDescriptor& f = *message->field(i);
      fields.insert(f.json_name());
      auto it = properties.fields().find(f.json_name());
      if (it == properties.fields().end()) continue;
      const Struct& p = it->second.struct_value();
      std::string type = p.fields().count("type") ? p.fields().at("type").string_value() : "object";
      const Struct* element = &p;
      if (f.is_repeated()) {
        EXPECT_EQ(type, "array") << name << "." << f.json_name();
        element = &Field(p, "items");
        type = element->fields().count("type") ? element->fields().at("type").string_value()
                                                 : "object";
      }
      EXPECT_EQ(type, JsonTypeOf(f)) << name << "." << f.json_name();
      if (f.enum_type() != nullptr && element->fields().count("enum")) {
        for (const Value& v : element->fields().at("enum").list_value().values()) {
          EXPECT_NE(f.enum_type()->FindValueByName(v.string_value()), nullptr)
              << name << "." << f.json_name() << " " << v.string_value();
        }
      }
    }
    std::set<std::string> described;
    for (const auto& [p, unused] : properties.fields()) described.insert(p);
    EXPECT_EQ(described, fields) << name;
  }
  EXPECT_GE(checked, 14);
}

TEST(HttpApiTest, MapsStatusCodesAndEscapesErrors) {
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::INVALID_ARGUMENT), 400);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::NOT_FOUND), 404);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::UNAUTHENTICATED), 401);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::PERMISSION_DENIED), 403);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::RESOURCE_EXHAUSTED), 429);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::UNAVAILABLE), 503);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::DEADLINE_EXCEEDED), 504);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::INTERNAL), 500);
  // Quotes, control characters and invalid UTF-8 still give valid JSON.
  const std::string body = JsonErrorBody(400, grpc::StatusCode::INVALID_ARGUMENT,
                                         "bad \"id\" \n\x01 \xff\xfe caf\xc3\xa9");
  const Struct parsed = ParseJson(body);
  const Struct& error = Field(parsed, "error");
  EXPECT_EQ(error.fields().at("code").number_value(), 400);
  EXPECT_EQ(error.fields().at("status").string_value(), "INVALID_ARGUMENT");
  EXPECT_EQ(error.fields().at("message").string_value(),
            "bad \"id\" \n\x01 \xEF\xBF\xBD\xEF\xBF\xBD caf\xc3\xa9");
}

constexpr char kRead[] = "read-token-0123456789";
constexpr char kWrite[] = "write-token-0123456789";

// A gateway server in process (backends down: Recommend answers from
// trending) with the HTTP API in front of it.
class HttpApiServerTest : public ::testing::Test {
 protected:
  void Start(bool with_tokens) {
    root_ = recsys::testing::FreshTempDir("http_api");
    std::filesystem::create_directories(root_ + "/registry");
    EmbeddedUserStoreOptions store_options;
    store_options.state_dir = root_ + "/state";
    store_options.wal.fsync = false;
    auto store = EmbeddedUserStore::Open(store_options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    metrics_ = ServerMetrics::CreateWithoutExposer();
    GatewayServerOptions o;
    o.server.address = "127.0.0.1:0";
    o.bundle.registry_root = root_ + "/registry";
    o.bundle.model_name = "toy";
    o.start_polling = false;
    o.retrieval = grpc::CreateChannel("unix:" + root_ + "/no-retrieval.sock",
                                      grpc::InsecureChannelCredentials());
    o.ranking = grpc::CreateChannel("unix:" + root_ + "/no-ranking.sock",
                                    grpc::InsecureChannelCredentials());
    auto server = GatewayServer::Start(std::move(o), store_.get(), metrics_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    if (with_tokens) {
      auto table = TokenTable::Parse(absl::StrCat("read ", kRead, "\nwrite ", kWrite, "\n"));
      ASSERT_TRUE(table.ok()) << table.status();
      auth_ = std::make_unique<TokenAuthProcessor>(AuthPolicy::Gateway(), *std::move(table),
                                                   &metrics_->registry());
    }
    grpc::ChannelArguments args;
    api_ = std::make_unique<HttpApi>(server_->grpc_server()->InProcessChannel(args),
                                     HttpApiOptions{.auth = auth_.get(),
                                                    .registry = &metrics_->registry()});
    HttpServerOptions http;
    http.address = "127.0.0.1:0";
    http.max_body_bytes = 4096;
    http.keep_alive = true;
    auto started = HttpServer::StartHandler(
        http, [this](const HttpRequest& r) { return api_->Handle(r); });
    ASSERT_TRUE(started.ok()) << started.status();
    http_ = *std::move(started);
  }

  void LoadBundle() {
    absl::StatusOr<offline::TrainResult> trained;
    {
      const LogSeverity old = MinLogSeverity();
      SetMinLogSeverity(LogSeverity::kWarning);
      trained = recsys::testing::TrainToyBundle(root_);
      SetMinLogSeverity(old);
    }
    ASSERT_TRUE(trained.ok()) << trained.status();
    ASSERT_TRUE(Registry(root_ + "/registry", "toy").Promote(trained->version, true).ok());
    ASSERT_TRUE(server_->holder().PollOnce().ok());
  }

  void TearDown() override {
    http_.reset();
    api_.reset();
    if (server_ != nullptr) server_->Shutdown(absl::Seconds(2));
    server_.reset();
    std::filesystem::remove_all(root_);
  }

  std::string Scrape() {
    return prometheus::TextSerializer().Serialize(metrics_->registry().Collect());
  }

  std::string Get(const std::string& target, const std::string& headers = "") {
    return Exchange(http_->port(), absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: t\r\n", headers,
                                                "Connection: close\r\n\r\n"));
  }
  std::string Send(const std::string& method, const std::string& target, const std::string& body,
                   const std::string& headers = "Content-Type: application/json\r\n") {
    return Exchange(http_->port(),
                    absl::StrCat(method, " ", target, " HTTP/1.1\r\nHost: t\r\n", headers,
                                 "Content-Length: ", body.size(), "\r\nConnection: close\r\n\r\n",
                                 body));
  }

  std::string root_;
  std::unique_ptr<EmbeddedUserStore> store_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<GatewayServer> server_;
  std::unique_ptr<TokenAuthProcessor> auth_;
  std::unique_ptr<HttpApi> api_;
  std::unique_ptr<HttpServer> http_;
};

// Not ready and UNAVAILABLE before the first bundle; then JSON answers for
// every read route, and the errors a stranger can cause, each as JSON.
TEST_F(HttpApiServerTest, ServesTheApiAsJson) {
  Start(/*with_tokens=*/false);
  EXPECT_EQ(StatusOf(Get("/healthz")), 200);
  EXPECT_EQ(StatusOf(Get("/readyz")), 503);
  const std::string early = Get("/v1/recommend/u0?k=3");
  EXPECT_EQ(StatusOf(early), 503) << early;
  EXPECT_EQ(Field(ParseJson(BodyOf(early)), "error").fields().at("status").string_value(),
            "UNAVAILABLE");
  LoadBundle();
  EXPECT_EQ(StatusOf(Get("/readyz")), 200);

  const std::string rec = Get("/v1/recommend/u0?k=3");
  ASSERT_EQ(StatusOf(rec), 200) << rec;
  EXPECT_TRUE(absl::StrContains(rec, "Content-Type: application/json"));
  const Struct answer = ParseJson(BodyOf(rec));
  EXPECT_EQ(answer.fields().at("items").list_value().values_size(), 3);
  EXPECT_EQ(answer.fields().at("path").string_value(), "PATH_TRENDING_FALLBACK");
  EXPECT_TRUE(answer.fields().at("degraded").bool_value());  // defaults printed too

  const Struct cold = ParseJson(BodyOf(Get("/v1/recommend/nobody%20here?k=2&categories=a,b")));
  EXPECT_EQ(cold.fields().at("path").string_value(), "PATH_COLD_START");

  const std::string ack = Send("POST", "/v1/feedback", R"({"userId":"u0","itemId":"m1"})");
  ASSERT_EQ(StatusOf(ack), 200) << ack;
  EXPECT_EQ(ParseJson(BodyOf(ack)).fields().at("sequence").string_value(), "1");
  const Struct history = ParseJson(BodyOf(Get("/v1/history/u0?max_events=1")));
  ASSERT_EQ(history.fields().at("events").list_value().values_size(), 1);
  EXPECT_EQ(history.fields().at("events").list_value().values(0).struct_value().fields().at(
                "itemId").string_value(),
            "m1");
  const Struct model = ParseJson(BodyOf(Get("/v1/model")));
  EXPECT_EQ(model.fields().at("modelName").string_value(), "toy");

  // Errors: each a JSON body with the gRPC code's name.
  auto status_name = [](const std::string& response) {
    return Field(ParseJson(BodyOf(response)), "error").fields().at("status").string_value();
  };
  const std::string unknown_item = Send("POST", "/v1/feedback", R"({"userId":"u0","itemId":"zz"})");
  EXPECT_EQ(StatusOf(unknown_item), 404);
  EXPECT_EQ(status_name(unknown_item), "NOT_FOUND");
  EXPECT_EQ(StatusOf(Send("POST", "/v1/feedback", R"({"userId":"u0","itemId":"m1","x":1})")), 400);
  EXPECT_EQ(StatusOf(Send("POST", "/v1/feedback", "{not json")), 400);
  EXPECT_EQ(StatusOf(Send("POST", "/v1/feedback", "")), 400);
  EXPECT_EQ(StatusOf(Send("POST", "/v1/feedback", "userId=u0", "Content-Type: text/plain\r\n")),
            415);
  EXPECT_EQ(StatusOf(Send("POST", "/v1/feedback", std::string(5000, '{'))), 413);
  EXPECT_EQ(StatusOf(Get("/v1/recommend/u0?k=0")), 400);
  EXPECT_EQ(StatusOf(Get("/v1/recommend/u0?k=ten")), 400);
  EXPECT_EQ(StatusOf(Get("/v1/recommend/u0?kk=3")), 400);
  EXPECT_EQ(StatusOf(Get("/v1/recommend/u0?k=%zz")), 400);
  EXPECT_EQ(StatusOf(Get(absl::StrCat("/v1/recommend/", std::string(300, 'u')))), 400);
  EXPECT_EQ(StatusOf(Get("/v1/recommend/")), 404);
  EXPECT_EQ(StatusOf(Get("/v1/nothing")), 404);
  EXPECT_EQ(StatusOf(Get("/../../etc/passwd")), 404);
  const std::string wrong_method = Send("PUT", "/v1/feedback", "{}");
  EXPECT_EQ(StatusOf(wrong_method), 405);
  EXPECT_TRUE(absl::StrContains(wrong_method, "Allow: POST")) << wrong_method;
  EXPECT_EQ(StatusOf(Send("POST", "/v1/model", "{}")), 405);
  // Search and SimilarItems go to retrieval, which is down.
  EXPECT_EQ(StatusOf(Get("/v1/search?q=space&k=3")), 503);

  // The files: the OpenAPI description is JSON; HEAD has the length only.
  const std::string spec = Get("/openapi.json");
  EXPECT_EQ(StatusOf(spec), 200);
  EXPECT_EQ(ParseJson(BodyOf(spec)).fields().at("openapi").string_value(), "3.0.3");
  const std::string docs = Get("/docs");
  EXPECT_EQ(StatusOf(docs), 200);
  EXPECT_TRUE(absl::StrContains(docs, "Content-Security-Policy: default-src 'self'"));
  const std::string head = Exchange(http_->port(), "HEAD /openapi.json HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(head), 200);
  EXPECT_EQ(BodyOf(head), "");

  // Counted by route pattern and status.
  const std::string text = Scrape();
  EXPECT_TRUE(absl::StrContains(
      text, "recsys_http_requests_total{code=\"200\",route=\"/v1/recommend/{user}\"}"))
      << text.substr(0, 2000);
  EXPECT_TRUE(absl::StrContains(text, "code=\"404\",route=\"unmatched\""));
}

// With tokens: the same roles as the gRPC port, 401 with WWW-Authenticate
// without a token, 403 for a role too low.
TEST_F(HttpApiServerTest, TokensAndRolesAsOnTheGrpcPort) {
  Start(/*with_tokens=*/true);
  LoadBundle();
  const std::string none = Get("/v1/recommend/u0?k=2");
  EXPECT_EQ(StatusOf(none), 401);
  EXPECT_TRUE(absl::StrContains(none, "WWW-Authenticate: Bearer"));
  EXPECT_EQ(StatusOf(Get("/v1/recommend/u0?k=2", "Authorization: Bearer wrong-token-123456\r\n")),
            401);
  EXPECT_EQ(StatusOf(Get("/v1/recommend/u0?k=2", absl::StrCat("Authorization: Bearer ", kRead,
                                                               "\r\n"))),
            200);
  const std::string read_feedback =
      Send("POST", "/v1/feedback", R"({"userId":"u0","itemId":"m1"})",
           absl::StrCat("Content-Type: application/json\r\nAuthorization: Bearer ", kRead, "\r\n"));
  EXPECT_EQ(StatusOf(read_feedback), 403) << read_feedback;
  EXPECT_EQ(StatusOf(Send("POST", "/v1/feedback", R"({"userId":"u0","itemId":"m1"})",
                          absl::StrCat("Content-Type: application/json\r\nAuthorization: Bearer ",
                                       kWrite, "\r\n"))),
            200);
  EXPECT_EQ(StatusOf(Get("/v1/history/u0", absl::StrCat("Authorization: Bearer ", kWrite, "\r\n"))),
            403);
  // Probes and files need no token.
  EXPECT_EQ(StatusOf(Get("/readyz")), 200);
  EXPECT_EQ(StatusOf(Get("/openapi.json")), 200);
  EXPECT_TRUE(absl::StrContains(Scrape(), "recsys_auth_rejected_total"));
}

}  // namespace
}  // namespace recsys::gateway
