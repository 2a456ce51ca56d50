#include "gateway/http/http_api.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/client_context.h>

#include <cstdint>
#include <optional>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/server/grpc_status.h"
#include "common/server/http_request.h"
#include "gateway/gateway_service.h"
#include "gateway/http/json_print.h"
#include "gateway/http/web_assets.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace recsys::gateway {
namespace {

constexpr char kJson[] = "application/json";
// Headers of every API answer: JSON is never sniffed as something else, and
// answers about one user are never cached by a shared cache.
constexpr char kApiHeaders[] = "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n";
// The page and the docs: only our own files run (no inline script, no other
// origin), and no other site may frame them.
constexpr char kPageHeaders[] =
    "X-Content-Type-Options: nosniff\r\nCache-Control: no-cache\r\n"
    "Content-Security-Policy: default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'\r\n"
    "Referrer-Policy: no-referrer\r\n";

using Params = std::vector<std::pair<std::string, std::string>>;

}  // namespace

const std::vector<HttpRoute>& HttpRoutes() {
  static const auto* routes = new std::vector<HttpRoute>{
      {"GET", "/v1/recommend/{user}", "Recommend"},
      {"POST", "/v1/recommend", "Recommend"},
      {"POST", "/v1/feedback", "Feedback"},
      {"GET", "/v1/search", "Search"},
      {"GET", "/v1/similar/{item}", "SimilarItems"},
      {"GET", "/v1/history/{user}", "GetHistory"},
      {"DELETE", "/v1/history/{user}", "DeleteUser"},
      {"GET", "/v1/model", "GetModelInfo"},
      {"POST", "/v1/ask", "Ask"},
      {"GET", "/healthz", ""},
      {"GET", "/readyz", ""},
      {"GET", "/openapi.json", ""},
  };
  return *routes;
}

int HttpStatusFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 200;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::FAILED_PRECONDITION:
      return 400;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
      return 409;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::CANCELLED:
      return 499;
    case grpc::StatusCode::UNIMPLEMENTED:
      return 501;
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    default:
      return 500;
  }
}

namespace {

HttpResponse ErrorResponse(grpc::StatusCode code, const std::string& message) {
  HttpResponse response;
  response.status = HttpStatusFor(code);
  response.content_type = kJson;
  response.body = JsonErrorBody(response.status, code, message);
  response.extra_headers = kApiHeaders;
  if (response.status == 401) response.extra_headers += "WWW-Authenticate: Bearer\r\n";
  return response;
}

HttpResponse BadRequest(const std::string& message) {
  return ErrorResponse(grpc::StatusCode::INVALID_ARGUMENT, message);
}

HttpResponse JsonResponse(const google::protobuf::Message& message) {
  std::string body;
  if (!AppendJson(message, &body)) {
    // Maps (the manifest's parameters): protobuf's own printer.
    google::protobuf::util::JsonPrintOptions options;
    options.always_print_primitive_fields = true;
    const auto status = google::protobuf::util::MessageToJsonString(message, &body, options);
    if (!status.ok()) {
      return ErrorResponse(grpc::StatusCode::INTERNAL,
                           absl::StrCat("cannot print the answer as JSON: ", status.ToString()));
    }
  }
  body += '\n';
  return HttpResponse{.status = 200, .content_type = kJson, .body = std::move(body),
                      .extra_headers = kApiHeaders};
}

// Fills `message` from a JSON body; an error response (400 / 415) otherwise.
std::optional<HttpResponse> ParseJsonBody(const HttpRequest& request,
                                          google::protobuf::Message* message) {
  if (const std::string* type = request.Header("content-type");
      type != nullptr &&
      !absl::StartsWithIgnoreCase(absl::StripAsciiWhitespace(*type), "application/json")) {
    HttpResponse r = ErrorResponse(grpc::StatusCode::INVALID_ARGUMENT,
                                   "the body must be JSON (Content-Type: application/json)");
    r.status = 415;
    r.body = JsonErrorBody(415, grpc::StatusCode::INVALID_ARGUMENT,
                           "the body must be JSON (Content-Type: application/json)");
    return r;
  }
  if (absl::StripAsciiWhitespace(request.body).empty()) {
    return BadRequest(absl::StrCat("the request needs a JSON body (a ",
                                   message->GetDescriptor()->full_name(), ")"));
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(request.body, message, options);
  if (!status.ok()) {
    return BadRequest(absl::StrCat("bad JSON for ", message->GetDescriptor()->full_name(), ": ",
                                   std::string(status.message())));
  }
  return std::nullopt;
}

// The query's parameters; names outside `allowed` are an error.
std::optional<HttpResponse> ParseParams(const HttpRequest& request,
                                        std::initializer_list<absl::string_view> allowed,
                                        Params* params) {
  absl::StatusOr<Params> parsed = http::ParseQuery(request.query);
  if (!parsed.ok()) return BadRequest(absl::StrCat("bad query string: ", parsed.status().message()));
  for (const auto& [name, value] : *parsed) {
    bool known = false;
    for (absl::string_view a : allowed) known = known || a == name;
    if (!known) {
      return BadRequest(absl::StrCat("unknown query parameter '", name, "' (this route takes: ",
                                     absl::StrJoin(allowed, ", "), ")"));
    }
  }
  *params = *std::move(parsed);
  return std::nullopt;
}

// Integer parameter `name` into `out` (left as is when absent).
template <typename Int>
std::optional<HttpResponse> IntParam(const Params& params, absl::string_view name, Int* out) {
  for (const auto& [n, value] : params) {
    if (n != name) continue;
    if (!absl::SimpleAtoi(value, out)) {
      return BadRequest(absl::StrCat("query parameter '", name, "' must be an integer, got '",
                                     value, "'"));
    }
  }
  return std::nullopt;
}

std::optional<HttpResponse> BoolParam(const Params& params, absl::string_view name, bool* out) {
  for (const auto& [n, value] : params) {
    if (n != name) continue;
    if (value == "true" || value == "1" || value.empty()) {
      *out = true;
    } else if (value == "false" || value == "0") {
      *out = false;
    } else {
      return BadRequest(absl::StrCat("query parameter '", name, "' must be true or false"));
    }
  }
  return std::nullopt;
}

// Every value of a list parameter, given repeated or comma-separated.
std::vector<std::string> ListParam(const Params& params, absl::string_view name) {
  std::vector<std::string> out;
  for (const auto& [n, value] : params) {
    if (n != name) continue;
    for (absl::string_view piece : absl::StrSplit(value, ',', absl::SkipEmpty())) {
      out.emplace_back(piece);
    }
  }
  return out;
}

std::string StringParam(const Params& params, absl::string_view name) {
  for (const auto& [n, value] : params) {
    if (n == name) return value;
  }
  return "";
}

}  // namespace

std::string JsonErrorBody(int http_status, grpc::StatusCode code, const std::string& message) {
  std::string body = absl::StrCat("{\"error\":{\"code\":", http_status, ",\"status\":\"",
                                  GrpcCodeName(code), "\",\"message\":");
  AppendJsonString(message, &body);
  body += "}}\n";
  return body;
}

// A route matched against a path: the route and its {name} segments, decoded.
struct HttpApi::Matched {
  const HttpRoute* route = nullptr;
  std::vector<std::pair<std::string, std::string>> vars;
  const std::string& var(absl::string_view name) const {
    static const std::string empty;
    for (const auto& [n, v] : vars) {
      if (n == name) return v;
    }
    return empty;
  }
};

namespace {

// Whether `path` fits `pattern`; fills `vars` (percent-decoded) if so.
// A segment that does not decode is a mismatch.
bool MatchPattern(absl::string_view pattern, absl::string_view path,
                  std::vector<std::pair<std::string, std::string>>* vars) {
  std::vector<absl::string_view> want = absl::StrSplit(pattern, '/');
  std::vector<absl::string_view> got = absl::StrSplit(path, '/');
  if (want.size() != got.size()) return false;
  vars->clear();
  for (size_t i = 0; i < want.size(); ++i) {
    if (absl::StartsWith(want[i], "{") && absl::EndsWith(want[i], "}")) {
      if (got[i].empty()) return false;
      absl::StatusOr<std::string> decoded = http::PercentDecode(got[i], /*plus_is_space=*/false);
      if (!decoded.ok()) return false;
      vars->emplace_back(std::string(want[i].substr(1, want[i].size() - 2)), *std::move(decoded));
    } else if (want[i] != got[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

HttpApi::HttpApi(std::shared_ptr<grpc::Channel> channel, HttpApiOptions options)
    : channel_(std::move(channel)),
      stub_(v1::Recommender::NewStub(channel_)),
      options_(options) {
  if (options_.registry != nullptr) {
    requests_ = &prometheus::BuildCounter()
                     .Name("recsys_http_requests_total")
                     .Help("HTTP requests to the gateway's HTTP port by route pattern and status "
                           "(API calls are also counted by the gRPC method metrics)")
                     .Register(*options_.registry);
    seconds_ = &prometheus::BuildHistogram()
                    .Name("recsys_http_request_seconds")
                    .Help("Time from a complete HTTP request to its answer, by route pattern")
                    .Register(*options_.registry);
  }
}

HttpResponse HttpApi::Handle(const HttpRequest& request) {
  const absl::Time start = absl::Now();
  std::string label = "unmatched";
  HttpResponse response = Dispatch(request, &label);
  if (requests_ != nullptr) {
    requests_->Add({{"route", label}, {"code", absl::StrCat(response.status)}}).Increment();
    static const prometheus::Histogram::BucketBoundaries kBuckets = {
        0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5};
    seconds_->Add({{"route", label}}, kBuckets)
        .Observe(absl::ToDoubleSeconds(absl::Now() - start));
  }
  return response;
}

HttpResponse HttpApi::Dispatch(const HttpRequest& request, std::string* route_label) {
  // HEAD is GET without the body (the server drops it).
  const std::string method = request.method == "HEAD" ? "GET" : request.method;
  std::vector<std::string> allowed;
  Matched match;
  for (const HttpRoute& route : HttpRoutes()) {
    std::vector<std::pair<std::string, std::string>> vars;
    if (!MatchPattern(route.pattern, request.path, &vars)) continue;
    if (route.method != method) {
      allowed.emplace_back(route.method);
      continue;
    }
    match.route = &route;
    match.vars = std::move(vars);
    break;
  }
  if (match.route == nullptr && !allowed.empty()) {
    *route_label = "method_not_allowed";
    HttpResponse r = ErrorResponse(grpc::StatusCode::UNIMPLEMENTED,
                                   absl::StrCat(request.method, " is not allowed on ",
                                                request.path, " (allowed: ",
                                                absl::StrJoin(allowed, ", "), ")"));
    r.status = 405;
    r.body = JsonErrorBody(405, grpc::StatusCode::UNIMPLEMENTED,
                           absl::StrCat(request.method, " is not allowed on this path"));
    if (absl::c_linear_search(allowed, "GET")) allowed.emplace_back("HEAD");
    absl::StrAppend(&r.extra_headers, "Allow: ", absl::StrJoin(allowed, ", "), "\r\n");
    return r;
  }
  if (match.route == nullptr) {
    if (const WebAsset* asset = FindWebAsset(request.path);
        asset != nullptr && asset->path != "/openapi.json") {
      *route_label = "page";
      if (method != "GET") {
        HttpResponse r = ErrorResponse(grpc::StatusCode::UNIMPLEMENTED, "only GET and HEAD");
        r.status = 405;
        r.body = JsonErrorBody(405, grpc::StatusCode::UNIMPLEMENTED, "only GET and HEAD");
        r.extra_headers += "Allow: GET, HEAD\r\n";
        return r;
      }
      return HttpResponse{.status = 200, .content_type = std::string(asset->content_type),
                          .body = std::string(asset->body), .extra_headers = kPageHeaders};
    }
    if (request.path == "/docs") {
      if (const WebAsset* docs = FindWebAsset("/docs.html"); docs != nullptr && method == "GET") {
        *route_label = "page";
        return HttpResponse{.status = 200, .content_type = std::string(docs->content_type),
                            .body = std::string(docs->body), .extra_headers = kPageHeaders};
      }
    }
    return ErrorResponse(grpc::StatusCode::NOT_FOUND,
                         absl::StrCat("no route for ", request.path, " (see /openapi.json)"));
  }
  *route_label = match.route->pattern;
  const absl::string_view pattern = match.route->pattern;
  if (pattern == "/healthz") {
    return HttpResponse{.status = 200, .body = "ok\n", .extra_headers = kApiHeaders};
  }
  if (pattern == "/readyz") return Ready();
  if (pattern == "/openapi.json") {
    const WebAsset* spec = FindWebAsset("/openapi.json");
    if (spec == nullptr) return ErrorResponse(grpc::StatusCode::NOT_FOUND, "no OpenAPI file");
    return HttpResponse{.status = 200, .content_type = kJson, .body = std::string(spec->body),
                        .extra_headers = "Cache-Control: no-cache\r\n"};
  }
  return CallRpc(*match.route, match, request);
}

HttpResponse HttpApi::Ready() {
  grpc::health::v1::HealthCheckRequest check;
  check.set_service(kGatewayServiceName);
  grpc::health::v1::HealthCheckResponse answer;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  const grpc::Status status =
      grpc::health::v1::Health::NewStub(channel_)->Check(&ctx, check, &answer);
  if (status.ok() && answer.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
    return HttpResponse{.status = 200, .body = "ready\n", .extra_headers = kApiHeaders};
  }
  return HttpResponse{.status = 503,
                      .body = status.ok() ? "not serving: no model bundle yet, or draining\n"
                                          : absl::StrCat("not serving: ", status.error_message(),
                                                         "\n"),
                      .extra_headers = kApiHeaders};
}

HttpResponse HttpApi::CallRpc(const HttpRoute& route, const Matched& match,
                              const HttpRequest& request) {
  const absl::string_view rpc = route.rpc;
  if (options_.auth != nullptr) {
    const std::string* authorization = request.Header("authorization");
    const grpc::Status allowed = options_.auth->Check(
        absl::StrCat("/", kGatewayServiceName, "/", rpc),
        authorization == nullptr ? absl::string_view() : absl::string_view(*authorization));
    if (!allowed.ok()) return ErrorResponse(allowed.error_code(), allowed.error_message());
  }
  Params params;
  grpc::ClientContext ctx;
  grpc::Status status;
  // Each branch: the request from path, query or body; the call; the answer.
  if (rpc == "Recommend") {
    v1::RecommendRequest req;
    v1::RecommendResponse resp;
    if (route.method == absl::string_view("POST")) {
      if (auto bad = ParseParams(request, {}, &params)) return *bad;
      if (auto bad = ParseJsonBody(request, &req)) return *bad;
    } else {
      if (auto bad = ParseParams(request, {"k", "categories", "exclude", "as_of_s", "debug"},
                                 &params)) {
        return *bad;
      }
      req.set_user_id(match.var("user"));
      int32_t k = 10;
      int64_t as_of = 0;
      bool debug = false;
      if (auto bad = IntParam(params, "k", &k)) return *bad;
      if (auto bad = IntParam(params, "as_of_s", &as_of)) return *bad;
      if (auto bad = BoolParam(params, "debug", &debug)) return *bad;
      req.set_k(k);
      req.set_as_of_s(as_of);
      req.set_debug(debug);
      for (std::string& c : ListParam(params, "categories")) req.add_context_categories(std::move(c));
      for (std::string& e : ListParam(params, "exclude")) req.add_exclude_item_ids(std::move(e));
    }
    status = stub_->Recommend(&ctx, req, &resp);
    if (status.ok()) return JsonResponse(resp);
  } else if (rpc == "Feedback") {
    v1::FeedbackRequest req;
    v1::FeedbackResponse resp;
    if (auto bad = ParseParams(request, {}, &params)) return *bad;
    if (auto bad = ParseJsonBody(request, &req)) return *bad;
    status = stub_->Feedback(&ctx, req, &resp);
    if (status.ok()) return JsonResponse(resp);
  } else if (rpc == "Search") {
    v1::SearchRequest req;
    v1::SearchResponse resp;
    if (auto bad = ParseParams(request, {"q", "k"}, &params)) return *bad;
    req.set_query(StringParam(params, "q"));
    int32_t k = 10;
    if (auto bad = IntParam(params, "k", &k)) return *bad;
    req.set_k(k);
    status = stub_->Search(&ctx, req, &resp);
    if (status.ok()) return JsonResponse(resp);
  } else if (rpc == "SimilarItems") {
    v1::SimilarItemsRequest req;
    v1::SimilarItemsResponse resp;
    if (auto bad = ParseParams(request, {"k"}, &params)) return *bad;
    req.set_item_id(match.var("item"));
    int32_t k = 10;
    if (auto bad = IntParam(params, "k", &k)) return *bad;
    req.set_k(k);
    status = stub_->SimilarItems(&ctx, req, &resp);
    if (status.ok()) return JsonResponse(resp);
  } else if (rpc == "GetHistory") {
    v1::GetHistoryRequest req;
    v1::GetHistoryResponse resp;
    if (auto bad = ParseParams(request, {"max_events"}, &params)) return *bad;
    req.set_user_id(match.var("user"));
    int32_t max_events = 0;
    if (auto bad = IntParam(params, "max_events", &max_events)) return *bad;
    req.set_max_events(max_events);
    status = stub_->GetHistory(&ctx, req, &resp);
    if (status.ok()) return JsonResponse(resp);
  } else if (rpc == "DeleteUser") {
    v1::DeleteUserRequest req;
    v1::DeleteUserResponse resp;
    if (auto bad = ParseParams(request, {}, &params)) return *bad;
    req.set_user_id(match.var("user"));
    status = stub_->DeleteUser(&ctx, req, &resp);
    if (status.ok()) return JsonResponse(resp);
  } else if (rpc == "GetModelInfo") {
    v1::GetModelInfoRequest req;
    v1::GetModelInfoResponse resp;
    if (auto bad = ParseParams(request, {}, &params)) return *bad;
    status = stub_->GetModelInfo(&ctx, req, &resp);
    if (status.ok()) return JsonResponse(resp);
  } else if (rpc == "Ask") {
    v1::AskRequest req;
    v1::AskResponse resp;
    if (auto bad = ParseParams(request, {}, &params)) return *bad;
    if (auto bad = ParseJsonBody(request, &req)) return *bad;
    status = stub_->Ask(&ctx, req, &resp);
    if (status.ok()) return JsonResponse(resp);
  } else {
    return ErrorResponse(grpc::StatusCode::UNIMPLEMENTED, absl::StrCat("no handler for ", rpc));
  }
  return ErrorResponse(status.error_code(), status.error_message());
}

}  // namespace recsys::gateway
