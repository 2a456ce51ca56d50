// Bearer-token authentication with roles, enforced by gRPC before a call
// reaches its service (grpc::AuthMetadataProcessor).
//
// Token file (a mounted Secret), one token per line, '#' comments and blank
// lines ignored:
//     # role   token
//     read     3f0c9d...      Recommend, Search, SimilarItems, GetModelInfo, Ask
//     write    a81e27...      read + Feedback
//     admin    77b4e0...      write + GetHistory, DeleteUser
// Roles nest: admin ⊃ write ⊃ read. A caller sends "authorization: Bearer
// TOKEN". Missing or unknown token -> UNAUTHENTICATED; a role below the
// method's -> PERMISSION_DENIED. Tokens are compared in constant time (as
// SHA-256 digests, so neither content nor length leaks through timing) and
// never logged or echoed; the header is removed before the service sees the
// call.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/security/auth_metadata_processor.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace recsys {

enum class Role { kRead = 1, kWrite = 2, kAdmin = 3 };
const char* RoleName(Role role);
std::optional<Role> ParseRole(absl::string_view name);

// The tokens of one file, immutable. Lookup cost is O(tokens) (every entry is
// compared, whatever matches).
class TokenTable {
 public:
  // InvalidArgument naming the line for a bad role, a missing token, a token
  // shorter than 16 characters or one given twice.
  static absl::StatusOr<TokenTable> Parse(absl::string_view text);
  // Parse of the file's contents; NotFound if it cannot be read.
  static absl::StatusOr<TokenTable> Load(const std::string& path);

  // The role of `token`, or nullopt. Constant time in the token's content.
  std::optional<Role> Find(absl::string_view token) const;
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::array<uint8_t, 32> digest;
    Role role;
  };
  std::vector<Entry> entries_;
};

// Which role each fully qualified method ("/recsys.v1.Recommender/Feedback")
// needs. Methods under an open prefix (health, reflection) need no token;
// any other method not listed needs admin.
struct AuthPolicy {
  std::map<std::string, Role, std::less<>> methods;
  std::vector<std::string> open_prefixes = {"/grpc.health.v1.Health/",
                                            "/grpc.reflection.v1alpha.ServerReflection/"};
  // Methods starting with service_prefix (not in `methods`) need service_role.
  std::string service_prefix;
  Role service_role = Role::kRead;

  // The gateway's public API: read = Recommend, Search, SimilarItems,
  // GetModelInfo, Ask; write = Feedback; admin = GetHistory, DeleteUser.
  static AuthPolicy Gateway();
  // Every method of `service` ("recsys.v1.Retrieval") needs `role`.
  static AuthPolicy WholeService(const std::string& service, Role role);

  // The role `method` needs, or nullopt when it is open.
  std::optional<Role> Required(absl::string_view method) const;
};

// recsys_auth_rejected_total{reason="missing_token"|"unknown_token"|"role"},
// registered in `registry` (a service without tokens registers it too, at 0, so
// dashboards and alerts see every service the same way).
struct AuthRejectedCounters {
  prometheus::Counter* missing_token;
  prometheus::Counter* unknown_token;
  prometheus::Counter* role;
};
AuthRejectedCounters RegisterAuthRejectedCounters(prometheus::Registry& registry);

// Enforces `policy` with the tokens of a table that can be replaced while
// serving (Reload: SIGHUP). Non-blocking: runs on gRPC's thread, a hash and a
// few comparisons per call. Thread-safe.
class TokenAuthProcessor final : public grpc::AuthMetadataProcessor {
 public:
  // Rejected calls are counted in `registry` (may be null; must outlive this)
  // as recsys_auth_rejected_total{reason="missing_token"|"unknown_token"|"role"}:
  // they never reach the service, so its own metrics do not see them.
  TokenAuthProcessor(AuthPolicy policy, TokenTable tokens,
                     prometheus::Registry* registry = nullptr);

  // Replaces the tokens; calls already admitted are unaffected.
  void Replace(TokenTable tokens);

  // The decision for one call of `method` ("/recsys.v1.Recommender/Feedback")
  // carrying `authorization` ("Bearer TOKEN", "" if absent): OK,
  // UNAUTHENTICATED or PERMISSION_DENIED, counted like Process's. Used by
  // transports other than gRPC (the gateway's HTTP API).
  grpc::Status Check(absl::string_view method, absl::string_view authorization);

  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

 private:
  const AuthPolicy policy_;
  prometheus::Counter* missing_ = nullptr;
  prometheus::Counter* unknown_ = nullptr;
  prometheus::Counter* role_ = nullptr;
  mutable absl::Mutex mu_;
  std::shared_ptr<const TokenTable> tokens_ ABSL_GUARDED_BY(mu_);
};

}  // namespace recsys
