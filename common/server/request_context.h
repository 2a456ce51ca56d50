// Per-RPC identity for logs and tracing: the request id (the caller's
// `x-request-id` metadata, or a fresh random one) and the W3C trace context
// (`traceparent`: https://www.w3.org/TR/trace-context/).
//
// Each server hop starts its own span: trace_id is the caller's (or a new one
// when the caller sent none or an invalid one), span_id is new, parent_span_id
// is the caller's span. Downstream calls carry
// "00-<trace_id>-<this hop's span_id>-<flags>", so the next hop logs this span
// as its parent and a collector can stitch the spans from the logs.
//
// The access-log interceptor (access_log.h) creates the context when a call's
// metadata arrives and registers it under the call's ServerContext until the
// call is destroyed; handlers reach it through the functions below with their
// ServerContext. Without a registered context (no interceptor, e.g. in unit
// tests) the functions do nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/log.h"

namespace grpc {
class ClientContext;
class ServerContextBase;
}  // namespace grpc

namespace recsys {

inline constexpr char kRequestIdMetadata[] = "x-request-id";
inline constexpr char kTraceparentMetadata[] = "traceparent";

struct TraceParent {
  std::string trace_id;  // 32 lower-case hex digits, not all zero
  std::string span_id;   // 16 lower-case hex digits, not all zero
  uint8_t flags = 0;     // bit 0: sampled
};

// Parses a traceparent header. Version 00 must be exactly
// "00-<32 hex>-<16 hex>-<2 hex>"; a later version (not ff) may append
// "-..." which is ignored. Hex must be lower case; all-zero ids are invalid.
// False (and *out untouched) for anything else.
bool ParseTraceParent(absl::string_view header, TraceParent* out);
// "00-<trace_id>-<span_id>-<flags as 2 hex>".
std::string FormatTraceParent(const TraceParent& tp);

// `bytes` random bytes (from a per-thread generator seeded from the OS) as
// lower-case hex, never all zero. 16 bytes -> a trace or request id, 8 -> a span id.
std::string RandomHexId(int bytes);

// A caller-supplied request id is kept if it is 1..128 printable ASCII
// characters (no spaces); otherwise a new one is generated.
bool IsAcceptableRequestId(absl::string_view id);

struct RequestContext {
  std::string request_id;
  std::string trace_id;
  std::string span_id;         // this hop's span
  std::string parent_span_id;  // the caller's span; empty when the trace started here
  uint8_t trace_flags = 0;
};

// The context of a call that received `request_id` and `traceparent` (either
// may be empty = absent).
RequestContext MakeRequestContext(absl::string_view request_id, absl::string_view traceparent);

// Adds x-request-id and traceparent for a downstream call made on behalf of
// the server call `parent`. Call before the downstream call starts.
void AddDownstreamMetadata(const grpc::ServerContextBase& parent, grpc::ClientContext* child);

// Attaches a field to `call`'s access-log line (e.g. "path" = "full"); a later
// value for the same key replaces the earlier one. Thread-safe; call before
// the call's status is sent (e.g. before Finish).
void AnnotateCall(const grpc::ServerContextBase& call, absl::string_view key,
                  absl::string_view value);

// The registry the interceptor maintains. The entry lives from Register to
// Unregister (both by the interceptor); Annotations() returns a copy.
class CallRegistry {
 public:
  static void Register(const grpc::ServerContextBase* call, const RequestContext& context);
  static void Unregister(const grpc::ServerContextBase* call);
  // False if `call` is not registered.
  static bool Find(const grpc::ServerContextBase* call, RequestContext* context);
  static std::vector<LogField> Annotations(const grpc::ServerContextBase* call);
};

}  // namespace recsys
