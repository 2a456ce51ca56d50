#include "common/server/request_context.h"

#include <memory>
#include <random>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/client_context.h"
#include "grpcpp/server_context.h"

namespace recsys {
namespace {

bool IsLowerHex(absl::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool AllZero(absl::string_view s) { return s.find_first_not_of('0') == absl::string_view::npos; }

struct CallEntry {
  RequestContext context;
  std::vector<LogField> annotations;
};

// Sharded by pointer so concurrent calls rarely share a lock.
class Registry {
 public:
  static Registry& Get() {
    static Registry* r = new Registry();  // never destroyed: used until exit
    return *r;
  }
  struct Shard {
    absl::Mutex mu;
    absl::flat_hash_map<const grpc::ServerContextBase*, CallEntry> calls ABSL_GUARDED_BY(mu);
  };
  Shard& For(const grpc::ServerContextBase* call) {
    return shards_[(reinterpret_cast<uintptr_t>(call) >> 4) % kShards];
  }

 private:
  static constexpr int kShards = 16;
  Shard shards_[kShards];
};

}  // namespace

bool ParseTraceParent(absl::string_view h, TraceParent* out) {
  // vv-<32>-<16>-ff = 55 characters.
  if (h.size() < 55) return false;
  const absl::string_view version = h.substr(0, 2);
  if (!IsLowerHex(version) || version == "ff") return false;
  if (version == "00" ? h.size() != 55 : (h.size() > 55 && h[55] != '-')) return false;
  if (h[2] != '-' || h[35] != '-' || h[52] != '-') return false;
  const absl::string_view trace = h.substr(3, 32), span = h.substr(36, 16), flags = h.substr(53, 2);
  if (!IsLowerHex(trace) || !IsLowerHex(span) || !IsLowerHex(flags)) return false;
  if (AllZero(trace) || AllZero(span)) return false;
  out->trace_id = std::string(trace);
  out->span_id = std::string(span);
  out->flags = static_cast<uint8_t>(std::stoi(std::string(flags), nullptr, 16));
  return true;
}

std::string FormatTraceParent(const TraceParent& tp) {
  return absl::StrFormat("00-%s-%s-%02x", tp.trace_id, tp.span_id, tp.flags);
}

std::string RandomHexId(int bytes) {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  do {
    out.clear();
    uint64_t bits = 0;
    for (int i = 0; i < bytes; ++i) {
      if (i % 8 == 0) bits = gen();
      const unsigned b = bits & 0xFF;
      bits >>= 8;
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xF]);
    }
  } while (AllZero(out));
  return out;
}

bool IsAcceptableRequestId(absl::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c <= ' ' || c >= 0x7F) return false;
  }
  return true;
}

RequestContext MakeRequestContext(absl::string_view request_id, absl::string_view traceparent) {
  RequestContext c;
  c.request_id = IsAcceptableRequestId(request_id) ? std::string(request_id) : RandomHexId(16);
  TraceParent tp;
  if (ParseTraceParent(traceparent, &tp)) {
    c.trace_id = tp.trace_id;
    c.parent_span_id = tp.span_id;
    c.trace_flags = tp.flags;
  } else {
    c.trace_id = RandomHexId(16);
    c.trace_flags = 1;  // every call is logged, so every trace is "sampled"
  }
  c.span_id = RandomHexId(8);
  return c;
}

void AddDownstreamMetadata(const grpc::ServerContextBase& parent, grpc::ClientContext* child) {
  RequestContext c;
  if (!CallRegistry::Find(&parent, &c)) return;
  child->AddMetadata(kRequestIdMetadata, c.request_id);
  child->AddMetadata(kTraceparentMetadata,
                     FormatTraceParent(TraceParent{c.trace_id, c.span_id, c.trace_flags}));
}

void AnnotateCall(const grpc::ServerContextBase& call, absl::string_view key,
                  absl::string_view value) {
  Registry::Shard& shard = Registry::Get().For(&call);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.calls.find(&call);
  if (it == shard.calls.end()) return;
  for (LogField& f : it->second.annotations) {
    if (f.key == key) {
      f.value = std::string(value);
      return;
    }
  }
  it->second.annotations.push_back(LogField::String(std::string(key), std::string(value)));
}

void CallRegistry::Register(const grpc::ServerContextBase* call, const RequestContext& context) {
  Registry::Shard& shard = Registry::Get().For(call);
  absl::MutexLock lock(&shard.mu);
  shard.calls[call] = CallEntry{context, {}};
}

void CallRegistry::Unregister(const grpc::ServerContextBase* call) {
  Registry::Shard& shard = Registry::Get().For(call);
  absl::MutexLock lock(&shard.mu);
  shard.calls.erase(call);
}

bool CallRegistry::Find(const grpc::ServerContextBase* call, RequestContext* context) {
  Registry::Shard& shard = Registry::Get().For(call);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.calls.find(call);
  if (it == shard.calls.end()) return false;
  *context = it->second.context;
  return true;
}

std::vector<LogField> CallRegistry::Annotations(const grpc::ServerContextBase* call) {
  Registry::Shard& shard = Registry::Get().For(call);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.calls.find(call);
  if (it == shard.calls.end()) return {};
  return it->second.annotations;
}

}  // namespace recsys
