#include "common/server/http_request.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace recsys::http {
namespace {

// RFC 9110 §5.6.2 tchar.
bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("!#$%&'*+-.^_`|~").find(c) != absl::string_view::npos;
}

bool IsToken(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

// Longest method accepted; the registered ones are at most 7 characters.
constexpr size_t kMaxMethodLength = 32;

RequestHead Bad(absl::string_view why) {
  RequestHead head;
  head.error_status = 400;
  head.error = std::string(why);
  return head;
}

absl::string_view StripCr(absl::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

size_t FindHeadEnd(absl::string_view data) {
  size_t line_start = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i] != '\n') continue;
    if (StripCr(data.substr(line_start, i - line_start)).empty()) return i + 1;
    line_start = i + 1;
  }
  return absl::string_view::npos;
}

RequestHead ParseRequestHead(absl::string_view head) {
  std::vector<absl::string_view> lines = absl::StrSplit(head, '\n');
  // The request head ends with an empty line; what follows it is not ours.
  while (!lines.empty() && StripCr(lines.back()).empty()) lines.pop_back();
  if (lines.empty()) return Bad("empty request line");

  // request-line = method SP request-target SP HTTP-version, single spaces.
  const absl::string_view request_line = StripCr(lines[0]);
  std::vector<absl::string_view> parts = absl::StrSplit(request_line, ' ');
  if (parts.size() != 3) return Bad("malformed request line");
  if (!IsToken(parts[0]) || parts[0].size() > kMaxMethodLength) return Bad("malformed method");
  const absl::string_view target = parts[1];
  if (target.empty() || target[0] != '/') return Bad("request target must start with '/'");
  for (char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return Bad("control character in request target");
  }
  const absl::string_view version = parts[2];
  if (version.size() != 8 || !absl::StartsWith(version, "HTTP/") ||
      !absl::ascii_isdigit(static_cast<unsigned char>(version[5])) || version[6] != '.' ||
      !absl::ascii_isdigit(static_cast<unsigned char>(version[7]))) {
    return Bad("malformed HTTP version");
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    RequestHead unsupported;
    unsupported.error_status = 505;
    unsupported.error = absl::StrCat(version, " is not supported");
    return unsupported;
  }

  RequestHead parsed;
  for (size_t i = 1; i < lines.size(); ++i) {
    const absl::string_view line = StripCr(lines[i]);
    if (line.empty()) return Bad("empty line inside the header block");
    if (line[0] == ' ' || line[0] == '\t') return Bad("folded header line");
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos || !IsToken(line.substr(0, colon))) {
      return Bad("malformed header line");
    }
    for (char c : line.substr(colon + 1)) {
      const auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f) return Bad("control character in header value");
    }
    parsed.headers.emplace_back(absl::AsciiStrToLower(line.substr(0, colon)),
                                std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  }

  parsed.method = std::string(parts[0]);
  parsed.target = std::string(target);
  const size_t question = target.find('?');
  parsed.path = std::string(target.substr(0, question));
  if (question != absl::string_view::npos) parsed.query = std::string(target.substr(question + 1));
  parsed.minor_version = version[7] - '0';
  return parsed;
}

const std::string* RequestHead::Header(absl::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return &value;
  }
  return nullptr;
}

int RequestHead::HeaderCount(absl::string_view lower_name) const {
  int n = 0;
  for (const auto& header : headers) n += header.first == lower_name ? 1 : 0;
  return n;
}

namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

absl::StatusOr<std::string> PercentDecode(absl::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (text.size() - i < 3) {
        return absl::InvalidArgumentError("truncated %-escape");
      }
      const int h = HexValue(text[i + 1]);
      const int l = HexValue(text[i + 2]);
      if (h < 0 || l < 0) return absl::InvalidArgumentError("bad %-escape");
      out.push_back(static_cast<char>(h * 16 + l));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQuery(
    absl::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  for (absl::string_view piece : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    const size_t eq = piece.find('=');
    absl::StatusOr<std::string> name = PercentDecode(piece.substr(0, eq), true);
    if (!name.ok()) return name.status();
    std::string value;
    if (eq != absl::string_view::npos) {
      absl::StatusOr<std::string> decoded = PercentDecode(piece.substr(eq + 1), true);
      if (!decoded.ok()) return decoded.status();
      value = *std::move(decoded);
    }
    out.emplace_back(*std::move(name), std::move(value));
  }
  return out;
}

absl::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string FormatResponse(int status, absl::string_view content_type, absl::string_view body,
                           bool head_only, absl::string_view extra_headers, bool keep_alive) {
  std::string out = absl::StrCat(
      "HTTP/1.1 ", status, " ", ReasonPhrase(status), "\r\nContent-Type: ", content_type,
      "\r\nContent-Length: ", body.size(), "\r\nConnection: ", keep_alive ? "keep-alive" : "close",
      "\r\n", extra_headers, "\r\n");
  if (!head_only) out.append(body.data(), body.size());
  return out;
}

}  // namespace recsys::http
