#include "gateway/ask_generator.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gateway/ask.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace recsys::gateway {
namespace {

// Closes the socket when the call ends, however it ends.
class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  const int fd_;
};

std::string Errno(int err) { return std::strerror(err); }

// Waits until `fd` is ready for `events` (or has an error, which the next
// read or write reports), or DeadlineExceeded once `deadline` passes.
absl::Status WaitFor(int fd, short events, absl::Time deadline, const char* what) {
  for (;;) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat("deadline passed while ", what));
    }
    // Rounded up: a poll of 0 ms with time left would spin.
    const int64_t ms = std::min<int64_t>(
        absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))), 1 << 30);
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(ms));
    if (n > 0) return absl::OkStatus();
    if (n < 0 && errno != EINTR) {
      return absl::UnavailableError(absl::StrCat("poll while ", what, ": ", Errno(errno)));
    }
  }
}

// A connected non-blocking socket to one of `url`'s addresses.
absl::StatusOr<std::unique_ptr<Socket>> Connect(const HttpUrl& url, absl::Time deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = absl::StrCat(url.port);
  if (const int rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve ", url.host, ": ", ::gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);
  absl::Status last = absl::UnavailableError(absl::StrCat("no address for ", url.host));
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    auto socket = std::make_unique<Socket>(
        ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
    if (socket->fd() < 0) {
      last = absl::UnavailableError(absl::StrCat("socket: ", Errno(errno)));
      continue;
    }
    if (::connect(socket->fd(), a->ai_addr, a->ai_addrlen) == 0) return socket;
    if (errno != EINPROGRESS) {
      last = absl::UnavailableError(
          absl::StrCat("connecting to ", url.host, ":", url.port, ": ", Errno(errno)));
      continue;
    }
    if (absl::Status s = WaitFor(socket->fd(), POLLOUT, deadline, "connecting"); !s.ok()) {
      return s;
    }
    int err = 0;
    socklen_t len = sizeof(err);
    if (::getsockopt(socket->fd(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err == 0) return socket;
    last = absl::UnavailableError(
        absl::StrCat("connecting to ", url.host, ":", url.port, ": ", Errno(err)));
  }
  return last;
}

absl::Status SendAll(int fd, absl::string_view data, absl::Time deadline) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (absl::Status s = WaitFor(fd, POLLOUT, deadline, "sending the request"); !s.ok()) {
        return s;
      }
    } else if (n < 0 && errno != EINTR) {
      return absl::UnavailableError(absl::StrCat("sending the request: ", Errno(errno)));
    }
  }
  return absl::OkStatus();
}

// Appends what arrives next to `buffer`: false at end of stream.
absl::StatusOr<bool> ReceiveSome(int fd, std::string* buffer, absl::Time deadline) {
  char chunk[16 << 10];
  for (;;) {
    const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n > 0) {
      buffer->append(chunk, static_cast<size_t>(n));
      return true;
    }
    if (n == 0) return false;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (absl::Status s = WaitFor(fd, POLLIN, deadline, "waiting for the reply"); !s.ok()) {
        return s;
      }
    } else if (errno != EINTR) {
      return absl::UnavailableError(absl::StrCat("receiving the reply: ", Errno(errno)));
    }
  }
}

// The host as the Host header writes it (IPv6 addresses bracketed).
std::string HostHeader(const HttpUrl& url) {
  const std::string host =
      absl::StrContains(url.host, ':') ? absl::StrCat("[", url.host, "]") : url.host;
  return url.port == 80 ? host : absl::StrCat(host, ":", url.port);
}

absl::Status BadUrl(absl::string_view url, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("bad URL '", url, "': ", why));
}

}  // namespace

absl::StatusOr<HttpUrl> ParseHttpUrl(absl::string_view url) {
  for (char c : url) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      return BadUrl(url, "spaces, control and non-ASCII characters must be percent-encoded");
    }
  }
  absl::string_view rest = url;
  if (absl::StartsWithIgnoreCase(rest, "https://")) {
    return BadUrl(url, "https is not supported (plain http:// only)");
  }
  if (!absl::StartsWithIgnoreCase(rest, "http://")) return BadUrl(url, "must start with http://");
  rest.remove_prefix(7);
  if (absl::StrContains(rest, '#')) return BadUrl(url, "a fragment (#...) is not allowed");
  HttpUrl out;
  const size_t path_at = rest.find_first_of("/?");
  absl::string_view authority = rest.substr(0, path_at);
  if (path_at != absl::string_view::npos) {
    const absl::string_view path = rest.substr(path_at);
    out.path = absl::StrCat(path[0] == '?' ? "/" : "", path);
  }
  if (absl::StrContains(authority, '@')) return BadUrl(url, "user names in URLs are not supported");
  absl::string_view port;
  if (absl::ConsumePrefix(&authority, "[")) {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) return BadUrl(url, "unclosed '[' in the host");
    out.host = std::string(authority.substr(0, close));
    authority.remove_prefix(close + 1);
    if (!authority.empty() && !absl::ConsumePrefix(&authority, ":")) {
      return BadUrl(url, "unexpected text after the host");
    }
    port = authority;
    if (port.empty() && absl::EndsWith(rest.substr(0, path_at), ":")) {
      return BadUrl(url, "empty port");
    }
  } else {
    const size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != absl::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return BadUrl(url, "empty port");
    }
    if (absl::StrContains(out.host, ':')) return BadUrl(url, "IPv6 hosts must be in brackets");
  }
  if (out.host.empty()) return BadUrl(url, "no host");
  if (!port.empty()) {
    int p = 0;
    if (!std::all_of(port.begin(), port.end(), absl::ascii_isdigit) || port.size() > 5 ||
        !absl::SimpleAtoi(port, &p) || p < 1 || p > 65535) {
      return BadUrl(url, absl::StrCat("port '", port, "' is not in 1..65535"));
    }
    out.port = p;
  }
  return out;
}

absl::StatusOr<HttpReplyHead> ParseHttpReplyHead(absl::string_view head) {
  if (!absl::ConsumeSuffix(&head, "\r\n\r\n")) {
    return absl::InvalidArgumentError("reply head does not end with a blank line");
  }
  std::vector<absl::string_view> lines = absl::StrSplit(head, "\r\n");
  HttpReplyHead out;
  // "HTTP/1.1 200 OK" (the reason may be empty or absent).
  absl::string_view status_line = lines[0];
  if (!absl::ConsumePrefix(&status_line, "HTTP/1.") || status_line.size() < 5 ||
      !absl::ascii_isdigit(static_cast<unsigned char>(status_line[0])) || status_line[1] != ' ' ||
      !absl::SimpleAtoi(status_line.substr(2, 3), &out.status) ||
      !std::all_of(status_line.begin() + 2, status_line.begin() + 5, absl::ascii_isdigit) ||
      (status_line.size() > 5 && status_line[5] != ' ')) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an HTTP/1.x status line: '", lines[0].substr(0, 80), "'"));
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos || colon == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed header line: '", lines[i].substr(0, 80), "'"));
    }
    const absl::string_view name = lines[i].substr(0, colon);
    const absl::string_view value = absl::StripAsciiWhitespace(lines[i].substr(colon + 1));
    if (absl::EqualsIgnoreCase(name, "content-length")) {
      int64_t n = -1;
      if (value.empty() || !std::all_of(value.begin(), value.end(), absl::ascii_isdigit) ||
          !absl::SimpleAtoi(value, &n) || (out.content_length >= 0 && out.content_length != n)) {
        return absl::InvalidArgumentError(absl::StrCat("bad Content-Length '", value, "'"));
      }
      out.content_length = n;
    } else if (absl::EqualsIgnoreCase(name, "transfer-encoding")) {
      out.chunked |= absl::StrContains(absl::AsciiStrToLower(value), "chunked");
    }
  }
  // These never carry a body (RFC 9112 6.3).
  if (out.status / 100 == 1 || out.status == 204 || out.status == 304) out.content_length = 0;
  return out;
}

absl::StatusOr<HttpReply> HttpPost(const HttpUrl& url, absl::string_view content_type,
                                   absl::string_view body, absl::Time deadline,
                                   size_t max_body_bytes) {
  absl::StatusOr<std::unique_ptr<Socket>> socket = Connect(url, deadline);
  if (!socket.ok()) return socket.status();
  const int fd = (*socket)->fd();
  const std::string request =
      absl::StrCat("POST ", url.path, " HTTP/1.1\r\nHost: ", HostHeader(url),
                   "\r\nContent-Type: ", content_type, "\r\nContent-Length: ", body.size(),
                   "\r\nAccept: application/json\r\nConnection: close\r\n\r\n", body);
  if (absl::Status s = SendAll(fd, request, deadline); !s.ok()) return s;

  std::string buffer;
  size_t head_end = std::string::npos;
  while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
    if (buffer.size() > kMaxGeneratorHeadBytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("reply head over ", kMaxGeneratorHeadBytes, " bytes"));
    }
    absl::StatusOr<bool> more = ReceiveSome(fd, &buffer, deadline);
    if (!more.ok()) return more.status();
    if (!*more) {
      return buffer.empty()
                 ? absl::UnavailableError("connection closed without a reply")
                 : absl::UnavailableError("connection closed in the middle of the reply head");
    }
  }
  head_end += 4;
  if (head_end > kMaxGeneratorHeadBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("reply head over ", kMaxGeneratorHeadBytes, " bytes"));
  }
  absl::StatusOr<HttpReplyHead> head =
      ParseHttpReplyHead(absl::string_view(buffer).substr(0, head_end));
  if (!head.ok()) return absl::DataLossError(head.status().message());
  if (head->chunked) return absl::DataLossError("chunked replies are not supported");
  if (head->content_length > static_cast<int64_t>(max_body_bytes)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("reply of ", head->content_length, " bytes (at most ", max_body_bytes, ")"));
  }
  HttpReply reply;
  reply.status = head->status;
  reply.body = buffer.substr(head_end);
  if (head->content_length >= 0) {
    const size_t want = static_cast<size_t>(head->content_length);
    while (reply.body.size() < want) {
      absl::StatusOr<bool> more = ReceiveSome(fd, &reply.body, deadline);
      if (!more.ok()) return more.status();
      if (!*more) {
        return absl::UnavailableError(absl::StrCat("connection closed after ", reply.body.size(),
                                                   " of ", want, " body bytes"));
      }
    }
    reply.body.resize(want);  // bytes past Content-Length are not the reply's
  } else {
    // No Content-Length: the body ends when the server closes the connection.
    for (;;) {
      if (reply.body.size() > max_body_bytes) {
        return absl::ResourceExhaustedError(absl::StrCat("reply over ", max_body_bytes, " bytes"));
      }
      absl::StatusOr<bool> more = ReceiveSome(fd, &reply.body, deadline);
      if (!more.ok()) return more.status();
      if (!*more) break;
    }
  }
  return reply;
}

std::string GeneratorRequestJson(absl::string_view question,
                                 const std::vector<GeneratorPassage>& passages) {
  google::protobuf::Struct doc;
  auto& fields = *doc.mutable_fields();
  fields["question"].set_string_value(std::string(question));
  google::protobuf::ListValue* list = fields["passages"].mutable_list_value();
  for (const GeneratorPassage& p : passages) {
    auto& passage = *list->add_values()->mutable_struct_value()->mutable_fields();
    passage["item_id"].set_string_value(p.item_id);
    passage["title"].set_string_value(p.title);
    passage["text"].set_string_value(p.text);
  }
  std::string json;
  // Cannot fail: a Struct of strings always prints.
  (void)google::protobuf::util::MessageToJsonString(doc, &json);
  return json;
}

absl::StatusOr<std::string> ParseGeneratorReply(absl::string_view body) {
  google::protobuf::Struct doc;
  const auto parsed = google::protobuf::util::JsonStringToMessage(std::string(body), &doc);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("reply is not a JSON object: ", parsed.ToString()));
  }
  const auto it = doc.fields().find("answer");
  if (it == doc.fields().end() || it->second.kind_case() != google::protobuf::Value::kStringValue) {
    return absl::InvalidArgumentError("reply has no string \"answer\"");
  }
  const std::string& answer = it->second.string_value();
  if (absl::StripAsciiWhitespace(answer).empty()) {
    return absl::InvalidArgumentError("reply's \"answer\" is empty");
  }
  if (!IsValidUtf8(answer)) return absl::InvalidArgumentError("reply's \"answer\" is not UTF-8");
  return answer;
}

const char* GeneratorOutcomeName(GeneratorOutcome outcome) {
  switch (outcome) {
    case GeneratorOutcome::kOk:
      return "ok";
    case GeneratorOutcome::kConnectError:
      return "connect_error";
    case GeneratorOutcome::kTimeout:
      return "timeout";
    case GeneratorOutcome::kHttpStatus:
      return "http_status";
    case GeneratorOutcome::kTooLarge:
      return "too_large";
    case GeneratorOutcome::kBadReply:
      return "bad_reply";
  }
  return "unknown";
}

AskGenerator::AskGenerator(HttpUrl url, absl::Duration timeout)
    : url_(std::move(url)), timeout_(timeout) {}

GeneratorResult AskGenerator::Generate(absl::string_view question,
                                       const std::vector<GeneratorPassage>& passages,
                                       absl::Time deadline) const {
  const absl::Time start = absl::Now();
  const absl::Time end = std::min(start + timeout_, deadline);
  GeneratorResult result;
  auto fail = [&result](GeneratorOutcome outcome, std::string error) {
    result.outcome = outcome;
    result.error = std::move(error);
    return result;
  };
  if (end <= start) {
    return fail(GeneratorOutcome::kTimeout, "the call's deadline passed before it could start");
  }
  absl::StatusOr<HttpReply> reply =
      HttpPost(url_, "application/json", GeneratorRequestJson(question, passages), end);
  if (!reply.ok()) {
    const std::string message(reply.status().message());
    switch (reply.status().code()) {
      case absl::StatusCode::kDeadlineExceeded:
        return fail(
            GeneratorOutcome::kTimeout,
            absl::StrCat("no complete reply within ",
                         absl::FormatDuration(absl::Trunc(end - start, absl::Milliseconds(1))),
                         " (", message, ")"));
      case absl::StatusCode::kUnavailable:
        return fail(GeneratorOutcome::kConnectError, message);
      case absl::StatusCode::kResourceExhausted:
        return fail(GeneratorOutcome::kTooLarge, message);
      default:
        return fail(GeneratorOutcome::kBadReply, message);
    }
  }
  if (reply->status != 200) {
    return fail(GeneratorOutcome::kHttpStatus, absl::StrCat("HTTP status ", reply->status));
  }
  absl::StatusOr<std::string> answer = ParseGeneratorReply(reply->body);
  if (!answer.ok()) {
    return fail(GeneratorOutcome::kBadReply, std::string(answer.status().message()));
  }
  result.answer = *std::move(answer);
  return result;
}

}  // namespace recsys::gateway
