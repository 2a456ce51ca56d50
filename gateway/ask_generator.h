// Ask's optional external generator (--ask_generator_url): a plain HTTP/1.1
// service that writes an answer from the cited passages.
//
//   POST <path>  {"question": "...", "passages": [{"item_id": "...",
//                 "title": "...", "text": "..."}, ...]}
//   200          {"answer": "..."}
//
// The client is deliberately small and bounded: one connection per call
// (Connection: close), a hard deadline over connect, send and receive
// (non-blocking sockets + poll), a Content-Length (or read-until-close) body of
// at most kMaxGeneratorReplyBytes, and no redirects, TLS, proxies or chunked
// replies. JSON goes through protobuf's JSON utilities (google.protobuf.Struct).
//
// Threading: every call blocks its thread for up to the deadline, so the
// gateway runs it on its own bounded worker pool, never on a gRPC callback
// thread. Name resolution (getaddrinfo) happens before the deadline applies:
// give the generator's address as an IP, or a name the local resolver answers
// at once (/etc/hosts). Const methods are safe to call concurrently.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace recsys::gateway {

// Largest generator reply body, bytes; larger replies are a failure.
inline constexpr size_t kMaxGeneratorReplyBytes = 64 << 10;
// Largest reply head (status line and headers), bytes.
inline constexpr size_t kMaxGeneratorHeadBytes = 16 << 10;

// http://host[:port][/path] (port 80 and path "/" by default). The host may be
// a name, an IPv4 address or a bracketed IPv6 address.
struct HttpUrl {
  std::string host;
  int port = 80;
  std::string path = "/";
};

// InvalidArgument naming what is wrong (not http://, no host, a bad port, a
// fragment, spaces or control characters), else the parts.
absl::StatusOr<HttpUrl> ParseHttpUrl(absl::string_view url);

struct HttpReply {
  int status = 0;
  std::string body;
};

// What a reply head says about its body.
struct HttpReplyHead {
  int status = 0;
  // -1 when absent: the body runs until the server closes the connection.
  int64_t content_length = -1;
  bool chunked = false;
};

// Parses "HTTP/1.x NNN reason\r\nName: value\r\n...\r\n\r\n" (the head,
// including its blank line). InvalidArgument for anything else.
absl::StatusOr<HttpReplyHead> ParseHttpReplyHead(absl::string_view head);

// POSTs `body` to `url` and returns the reply, or an error by its cause:
//   Unavailable        the address does not resolve, or the connection fails
//                      (refused, reset, closed before a full reply)
//   DeadlineExceeded   `deadline` passed before the whole reply arrived
//   ResourceExhausted  the head or body is larger than its cap
//   DataLoss           the reply is not HTTP/1.x, or is chunked
// Any status code is a reply (the caller judges it). Blocks until done.
absl::StatusOr<HttpReply> HttpPost(const HttpUrl& url, absl::string_view content_type,
                                   absl::string_view body, absl::Time deadline,
                                   size_t max_body_bytes = kMaxGeneratorReplyBytes);

// One passage the generator is given: a cited item.
struct GeneratorPassage {
  std::string item_id;
  std::string title;
  std::string text;
};

// The request body: {"question": ..., "passages": [{"item_id", "title", "text"}]}.
std::string GeneratorRequestJson(absl::string_view question,
                                 const std::vector<GeneratorPassage>& passages);

// The "answer" string of a reply body: InvalidArgument when the body is not a
// JSON object, has no non-empty string "answer", or the answer is not valid
// UTF-8.
absl::StatusOr<std::string> ParseGeneratorReply(absl::string_view body);

// How one generator call ended: the label of
// recsys_gateway_ask_generator_total{outcome}.
enum class GeneratorOutcome {
  kOk,
  kConnectError,  // no connection, or it broke before a full reply
  kTimeout,       // the deadline passed (in the queue, or on the wire)
  kHttpStatus,    // a status other than 200
  kTooLarge,      // reply over kMaxGeneratorReplyBytes
  kBadReply,      // not HTTP, chunked, not JSON, no "answer"
};
inline constexpr GeneratorOutcome kGeneratorOutcomes[] = {
    GeneratorOutcome::kOk,         GeneratorOutcome::kConnectError, GeneratorOutcome::kTimeout,
    GeneratorOutcome::kHttpStatus, GeneratorOutcome::kTooLarge,     GeneratorOutcome::kBadReply,
};
// "ok", "connect_error", "timeout", "http_status", "too_large", "bad_reply".
const char* GeneratorOutcomeName(GeneratorOutcome outcome);

struct GeneratorResult {
  GeneratorOutcome outcome = GeneratorOutcome::kOk;
  std::string answer;  // set when ok
  std::string error;   // why not, for the answer's note (when not ok)
};

// The configured generator. Immutable; Generate is safe to call concurrently.
class AskGenerator {
 public:
  AskGenerator(HttpUrl url, absl::Duration timeout);

  // One call, blocking for at most min(now + timeout, deadline).
  GeneratorResult Generate(absl::string_view question,
                           const std::vector<GeneratorPassage>& passages,
                           absl::Time deadline) const;

  absl::Duration timeout() const { return timeout_; }
  const HttpUrl& url() const { return url_; }

 private:
  const HttpUrl url_;
  const absl::Duration timeout_;
};

}  // namespace recsys::gateway
