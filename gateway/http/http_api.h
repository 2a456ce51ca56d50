// The gateway's HTTP/JSON face: the public API (recsys.v1.Recommender) as JSON
// routes, the OpenAPI description, the web page and health probes, all on one
// port (recsys-gateway --http_port).
//
// One implementation, two transports: every API route is a gRPC call to the
// gateway's own service over an in-process channel (grpc::Server::
// InProcessChannel), so it runs the same handlers, validation, limits, budget,
// answer cache and metrics as a call from a gRPC client. What the in-process
// channel bypasses, this layer does itself with the same objects: bearer
// tokens (TokenAuthProcessor::Check, same roles, same rejection counters).
//
//   GET    /v1/recommend/{user}?k=&categories=&exclude=&as_of_s=&debug=
//   POST   /v1/recommend          body: RecommendRequest
//   POST   /v1/feedback           body: FeedbackRequest
//   GET    /v1/search?q=&k=
//   GET    /v1/similar/{item}?k=
//   GET    /v1/history/{user}?max_events=
//   DELETE /v1/history/{user}
//   GET    /v1/model
//   POST   /v1/ask                body: AskRequest
//   GET    /healthz  /readyz  /openapi.json  /docs  /  (and the page's files)
//
// Bodies are the protobuf messages in their canonical JSON mapping (protobuf's
// own JSON utilities: lowerCamelCase names, int64 as strings, enums as names;
// unknown fields are an error). Responses print every field, defaults included.
// Errors: the gRPC code mapped to an HTTP status (HttpStatusFor) and a body
//   {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "..."}}.
// Unknown query parameters are 400, so a typo is not silently ignored.
//
// Threading: Handle is called concurrently from the HTTP server's threads and
// blocks each on its one in-process call (the HTTP server bounds the threads).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/channel.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "common/server/http_server.h"
#include "common/server/token_auth.h"
#include "grpcpp/support/status.h"
#include "recsys/v1/recommender.grpc.pb.h"

namespace recsys::gateway {

// One route of the JSON API (the OpenAPI description lists exactly these).
struct HttpRoute {
  const char* method;   // "GET", "POST", "DELETE"
  const char* pattern;  // "/v1/recommend/{user}": {name} is one path segment
  // The recsys.v1.Recommender method it calls ("" for the HTTP-only routes).
  const char* rpc;
};

// Every route, in the order they are matched.
const std::vector<HttpRoute>& HttpRoutes();

// The HTTP status for a gRPC status code (INVALID_ARGUMENT 400, NOT_FOUND 404,
// UNAUTHENTICATED 401, PERMISSION_DENIED 403, RESOURCE_EXHAUSTED 429,
// UNAVAILABLE 503, DEADLINE_EXCEEDED 504, UNIMPLEMENTED 501, ...).
int HttpStatusFor(grpc::StatusCode code);

// {"error":{"code":...,"status":"...","message":"..."}} (valid JSON for any
// message bytes: invalid UTF-8 becomes U+FFFD).
std::string JsonErrorBody(int http_status, grpc::StatusCode code, const std::string& message);

struct HttpApiOptions {
  // Tokens and roles of the gRPC port (null: no authentication).
  TokenAuthProcessor* auth = nullptr;
  // For recsys_http_requests_total / recsys_http_request_seconds (may be null).
  prometheus::Registry* registry = nullptr;
};

class HttpApi {
 public:
  // `channel` is an in-process channel to the gateway's own gRPC server.
  HttpApi(std::shared_ptr<grpc::Channel> channel, HttpApiOptions options);

  HttpResponse Handle(const HttpRequest& request);

 private:
  struct Matched;
  HttpResponse Dispatch(const HttpRequest& request, std::string* route_label);
  HttpResponse CallRpc(const HttpRoute& route, const Matched& match, const HttpRequest& request);
  HttpResponse Ready();

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Recommender::Stub> stub_;
  const HttpApiOptions options_;
  prometheus::Family<prometheus::Counter>* requests_ = nullptr;
  prometheus::Family<prometheus::Histogram>* seconds_ = nullptr;
};

}  // namespace recsys::gateway
