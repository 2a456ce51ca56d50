// Ask's generator client (gateway/ask_generator.h): URL and reply-head
// parsing, the JSON both ways, and the bounded HTTP client against a tiny
// loopback server (tests/gateway/fake_http_server.h) that answers well,
// badly, too much, or not at all.
#include "gateway/ask_generator.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/gateway/fake_http_server.h"

namespace recsys::gateway {
namespace {

using recsys::testing::ClosedPort;
using recsys::testing::FakeHttpServer;

const std::vector<GeneratorPassage> kPassages = {
    {"260", "Star Wars (1977)", "Star Wars (1977) [Action, Sci-Fi]"},
    {"1214", "Alien (1979)", "Alien (1979) [Horror, Sci-Fi]"},
};

// A server that answers every request with `bytes`.
FakeHttpServer::Handler Always(std::string bytes) {
  return [bytes](const FakeHttpServer::Request&) { return FakeHttpServer::Reply{bytes}; };
}

HttpUrl UrlOf(const FakeHttpServer& server) { return *ParseHttpUrl(server.url()); }

// The accepted URL forms, with their defaults.
TEST(AskGeneratorUrlTest, AcceptedForms) {
  absl::StatusOr<HttpUrl> u = ParseHttpUrl("http://127.0.0.1:8080/v1/answer?x=1");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->path, "/v1/answer?x=1");
  u = ParseHttpUrl("HTTP://generator");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->host, "generator");
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->path, "/");
  u = ParseHttpUrl("http://[::1]:9000");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 9000);
  u = ParseHttpUrl("http://gen?q");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->path, "/?q");
}

// Everything else is refused with a message saying what is wrong.
TEST(AskGeneratorUrlTest, RefusedForms) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "must start with http://"},
      {"generator:80", "must start with http://"},
      {"https://gen/", "https is not supported"},
      {"ftp://gen/", "must start with http://"},
      {"http://", "no host"},
      {"http://:80/", "no host"},
      {"http://gen:0/", "port '0' is not in 1..65535"},
      {"http://gen:65536/", "port '65536' is not in 1..65535"},
      {"http://gen:http/", "port 'http' is not in 1..65535"},
      {"http://gen:/", "empty port"},
      {"http://user:pw@gen/", "user names in URLs are not supported"},
      {"http://gen/a b", "percent-encoded"},
      {"http://gen/\xc3\xa9", "percent-encoded"},
      {"http://gen/#top", "fragment"},
      {"http://[::1/", "unclosed '['"},
      {"http://::1/", "IPv6 hosts must be in brackets"},
  };
  for (const auto& [url, why] : cases) {
    const absl::StatusOr<HttpUrl> u = ParseHttpUrl(url);
    ASSERT_FALSE(u.ok()) << url;
    EXPECT_EQ(u.status().code(), absl::StatusCode::kInvalidArgument) << url;
    EXPECT_TRUE(absl::StrContains(u.status().message(), why)) << url << ": " << u.status();
  }
}

// Status, Content-Length and chunking from a reply head; malformed heads refused.
TEST(AskGeneratorHttpTest, ReplyHeads) {
  absl::StatusOr<HttpReplyHead> h =
      ParseHttpReplyHead("HTTP/1.1 200 OK\r\nContent-Type: a/b\r\ncontent-length:  12 \r\n\r\n");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->content_length, 12);
  EXPECT_FALSE(h->chunked);
  h = ParseHttpReplyHead("HTTP/1.0 503\r\n\r\n");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->status, 503);
  EXPECT_EQ(h->content_length, -1);
  h = ParseHttpReplyHead("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_TRUE(h->chunked);
  h = ParseHttpReplyHead("HTTP/1.1 204 No Content\r\n\r\n");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->content_length, 0);
  for (const char* bad :
       {"HTTP/1.1 200 OK\r\n", "HTTP/2 200\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 20x OK\r\n\r\n", "HELLO\r\n\r\n", "HTTP/1.1 200 OK\r\nbroken\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"}) {
    EXPECT_FALSE(ParseHttpReplyHead(bad).ok()) << bad;
  }
}

// The request body is a JSON object with the question and every passage,
// escaped as JSON requires.
TEST(AskGeneratorJsonTest, RequestBody) {
  const std::string json = GeneratorRequestJson("films with \"quotes\"\nand é", kPassages);
  google::protobuf::Struct doc;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &doc).ok()) << json;
  EXPECT_EQ(doc.fields().at("question").string_value(), "films with \"quotes\"\nand é");
  const auto& passages = doc.fields().at("passages").list_value().values();
  ASSERT_EQ(passages.size(), 2);
  const auto& first = passages[0].struct_value().fields();
  EXPECT_EQ(first.at("item_id").string_value(), "260");
  EXPECT_EQ(first.at("title").string_value(), "Star Wars (1977)");
  EXPECT_EQ(first.at("text").string_value(), "Star Wars (1977) [Action, Sci-Fi]");
}

// Only a JSON object with a non-empty string "answer" is an answer.
TEST(AskGeneratorJsonTest, ReplyBody) {
  absl::StatusOr<std::string> a = ParseGeneratorReply(R"({"answer": "Watch Alien.", "x": 1})");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a, "Watch Alien.");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not a JSON object"},
      {"not json", "not a JSON object"},
      {"[1, 2]", "not a JSON object"},
      {R"({"text": "x"})", "no string \"answer\""},
      {R"({"answer": 5})", "no string \"answer\""},
      {R"({"answer": null})", "no string \"answer\""},
      {R"({"answer": "  "})", "is empty"},
  };
  for (const auto& [body, why] : cases) {
    a = ParseGeneratorReply(body);
    ASSERT_FALSE(a.ok()) << body;
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument) << body;
    EXPECT_TRUE(absl::StrContains(a.status().message(), why)) << body << ": " << a.status();
  }
  EXPECT_FALSE(ParseGeneratorReply("{\"answer\": \"\xff\"}").ok());
}

// A well-behaved generator: the POST carries the JSON, the path and the
// headers, and the answer comes back.
TEST(AskGeneratorClientTest, AnswersFromAGoodServer) {
  FakeHttpServer server(
      Always(FakeHttpServer::Response(200, R"({"answer": "Alien, then Star Wars."})")));
  const AskGenerator generator(UrlOf(server), absl::Seconds(10));
  const GeneratorResult r = generator.Generate("scary space", kPassages, absl::InfiniteFuture());
  EXPECT_EQ(r.outcome, GeneratorOutcome::kOk) << r.error;
  EXPECT_EQ(r.answer, "Alien, then Star Wars.");
  ASSERT_EQ(server.requests(), 1);
  const FakeHttpServer::Request request = server.last();
  EXPECT_TRUE(absl::StartsWith(request.head, "POST /answer HTTP/1.1\r\n")) << request.head;
  EXPECT_TRUE(absl::StrContains(request.head, absl::StrCat("Host: 127.0.0.1:", server.port())))
      << request.head;
  EXPECT_TRUE(absl::StrContains(request.head, "Content-Type: application/json")) << request.head;
  // The same document (a Struct's keys come in no fixed order).
  google::protobuf::Struct sent, expected;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(request.body, &sent).ok())
      << request.body;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  GeneratorRequestJson("scary space", kPassages), &expected)
                  .ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(sent, expected)) << request.body;
}

// A reply without Content-Length ends when the server closes; bytes past a
// Content-Length are not part of the body.
TEST(AskGeneratorClientTest, BodyUntilCloseOrContentLength) {
  {
    FakeHttpServer server(Always("HTTP/1.0 200 OK\r\n\r\n{\"answer\": \"until close\"}"));
    const GeneratorResult r = AskGenerator(UrlOf(server), absl::Seconds(10))
                                  .Generate("q", kPassages, absl::InfiniteFuture());
    EXPECT_EQ(r.outcome, GeneratorOutcome::kOk) << r.error;
    EXPECT_EQ(r.answer, "until close");
  }
  FakeHttpServer server(Always(FakeHttpServer::Response(200, R"({"answer": "sized"})") + "junk"));
  absl::StatusOr<HttpReply> reply =
      HttpPost(UrlOf(server), "application/json", "{}", absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, R"({"answer": "sized"})");
}

// Each failure is classified, with a reason for the answer's note.
TEST(AskGeneratorClientTest, FailuresByCause) {
  struct Case {
    const char* name;
    std::string reply;
    GeneratorOutcome outcome;
    const char* error;
  };
  const std::string big(kMaxGeneratorReplyBytes + 1, 'x');
  const std::vector<Case> cases = {
      {"bad status", FakeHttpServer::Response(503, R"({"answer": "busy"})"),
       GeneratorOutcome::kHttpStatus, "HTTP status 503"},
      {"not JSON", FakeHttpServer::Response(200, "<html>"), GeneratorOutcome::kBadReply,
       "not a JSON object"},
      {"no answer", FakeHttpServer::Response(200, R"({"choices": []})"),
       GeneratorOutcome::kBadReply, "no string \"answer\""},
      {"oversized, sized", FakeHttpServer::Response(200, big), GeneratorOutcome::kTooLarge,
       "bytes (at most 65536)"},
      {"oversized, until close", "HTTP/1.1 200 OK\r\n\r\n" + big, GeneratorOutcome::kTooLarge,
       "reply over 65536 bytes"},
      {"huge head", "HTTP/1.1 200 OK\r\nX: " + std::string(kMaxGeneratorHeadBytes, 'h'),
       GeneratorOutcome::kTooLarge, "reply head over"},
      {"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
       GeneratorOutcome::kBadReply, "chunked replies are not supported"},
      {"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", GeneratorOutcome::kBadReply,
       "not an HTTP/1.x status line"},
      {"cut short", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"answer\"",
       GeneratorOutcome::kConnectError, "connection closed after 9 of 100 body bytes"},
      {"closed at once", "", GeneratorOutcome::kConnectError, "connection closed without a reply"},
  };
  for (const Case& c : cases) {
    FakeHttpServer server(Always(c.reply));
    const GeneratorResult r = AskGenerator(UrlOf(server), absl::Seconds(10))
                                  .Generate("q", kPassages, absl::InfiniteFuture());
    EXPECT_EQ(GeneratorOutcomeName(r.outcome), std::string(GeneratorOutcomeName(c.outcome)))
        << c.name << ": " << r.error;
    EXPECT_TRUE(absl::StrContains(r.error, c.error)) << c.name << ": " << r.error;
    EXPECT_TRUE(r.answer.empty()) << c.name;
  }
}

// Nothing listening: a connect error naming the address.
TEST(AskGeneratorClientTest, ConnectionRefused) {
  const int port = ClosedPort();
  const AskGenerator generator(*ParseHttpUrl(absl::StrCat("http://127.0.0.1:", port, "/a")),
                               absl::Seconds(10));
  const GeneratorResult r = generator.Generate("q", kPassages, absl::InfiniteFuture());
  EXPECT_EQ(r.outcome, GeneratorOutcome::kConnectError);
  EXPECT_TRUE(absl::StrContains(r.error, absl::StrCat("127.0.0.1:", port))) << r.error;
  EXPECT_TRUE(absl::StrContains(r.error, "refused")) << r.error;
}

// A server that never answers: the call ends at the timeout, or at the
// caller's earlier deadline, and says how long it waited; a deadline already
// past fails without connecting.
TEST(AskGeneratorClientTest, SilentServerTimesOut) {
  FakeHttpServer server([](const FakeHttpServer::Request&) {
    FakeHttpServer::Reply r;
    r.hang = true;
    return r;
  });
  const AskGenerator generator(UrlOf(server), absl::Milliseconds(200));
  absl::Time start = absl::Now();
  GeneratorResult r = generator.Generate("q", kPassages, absl::InfiniteFuture());
  EXPECT_EQ(r.outcome, GeneratorOutcome::kTimeout);
  EXPECT_TRUE(absl::StrContains(r.error, "no complete reply within 200ms")) << r.error;
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(200));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));

  start = absl::Now();
  r = AskGenerator(UrlOf(server), absl::Seconds(30))
          .Generate("q", kPassages, start + absl::Milliseconds(100));
  EXPECT_EQ(r.outcome, GeneratorOutcome::kTimeout);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));

  const int before = server.requests();
  r = generator.Generate("q", kPassages, absl::Now() - absl::Seconds(1));
  EXPECT_EQ(r.outcome, GeneratorOutcome::kTimeout);
  EXPECT_TRUE(absl::StrContains(r.error, "deadline passed before")) << r.error;
  EXPECT_EQ(server.requests(), before);
}

}  // namespace
}  // namespace recsys::gateway
