// The HTTP/1.x request-head parsing and response formatting of HttpServer
// (common/server/http_server.h), kept free of sockets so it can be tested alone.
//
// The request line is checked strictly (RFC 9112 §3), header lines for shape
// (names are tokens, no line folding, no control characters); header names are
// kept lower-cased with their values trimmed, for the server to interpret the
// few it needs (Content-Length, Transfer-Encoding, Connection, Expect) and for
// handlers (Authorization, ...).
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace recsys::http {

// Where the request head (request line + header lines + the empty line) ends in
// `data`: the offset just past the empty line, or npos if it has not arrived yet.
// Lines end in CRLF or a bare LF (RFC 9112 §2.2 lets a server accept both).
size_t FindHeadEnd(absl::string_view data);

struct RequestHead {
  // 0 if the head is well formed, else the status to answer: 400 Bad Request or
  // 505 HTTP Version Not Supported (an HTTP/N.M other than 1.0 / 1.1).
  int error_status = 0;
  // What is wrong, for the response body; empty when error_status is 0.
  std::string error;
  std::string method;  // as sent (methods are case-sensitive)
  std::string target;  // origin form, e.g. "/metrics?x=1"
  std::string path;    // target without its query, e.g. "/metrics"
  std::string query;   // after the first '?', e.g. "x=1" ("" if none)
  int minor_version = 1;  // HTTP/1.<minor_version>
  // Header fields in order: name lower-cased, value without surrounding blanks.
  std::vector<std::pair<std::string, std::string>> headers;

  // The value of the first header named `lower_name`, or null.
  const std::string* Header(absl::string_view lower_name) const;
  // How many headers are named `lower_name`.
  int HeaderCount(absl::string_view lower_name) const;
};

// Parses a complete request head (up to FindHeadEnd's offset, or all of it).
RequestHead ParseRequestHead(absl::string_view head);

// The standard reason phrase of `status` ("Not Found"), "Unknown" for others.
absl::string_view ReasonPhrase(int status);

// A full HTTP/1.1 response with Content-Length and Connection: close (or
// keep-alive). `extra_headers` are complete lines, each ending in "\r\n" (e.g.
// "Allow: GET\r\n"). With `head_only` the body is left out but Content-Length
// still gives its size.
std::string FormatResponse(int status, absl::string_view content_type, absl::string_view body,
                           bool head_only, absl::string_view extra_headers = "",
                           bool keep_alive = false);

// Decodes %XX escapes (and, with `plus_is_space`, '+' as a space, as in a
// query). InvalidArgument for a truncated or non-hex escape. The result may be
// any bytes; callers that need UTF-8 check it.
absl::StatusOr<std::string> PercentDecode(absl::string_view text, bool plus_is_space);

// "a=1&b=x%20y&c" -> {{"a","1"},{"b","x y"},{"c",""}}, decoded, in order
// (empty pieces skipped). InvalidArgument for a bad escape.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQuery(
    absl::string_view query);

}  // namespace recsys::http
