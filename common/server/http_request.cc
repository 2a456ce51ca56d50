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
  }

  RequestHead parsed;
  parsed.method = std::string(parts[0]);
  parsed.target = std::string(target);
  parsed.path = std::string(target.substr(0, target.find('?')));
  return parsed;
}

absl::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

std::string FormatResponse(int status, absl::string_view content_type, absl::string_view body,
                           bool head_only, absl::string_view extra_headers) {
  std::string out = absl::StrCat(
      "HTTP/1.1 ", status, " ", ReasonPhrase(status), "\r\nContent-Type: ", content_type,
      "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n", extra_headers, "\r\n");
  if (!head_only) out.append(body.data(), body.size());
  return out;
}

}  // namespace recsys::http
