#include "common/server/token_auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/io/file.h"

namespace recsys {
namespace {

constexpr size_t kMinTokenLength = 16;

std::array<uint8_t, 32> Digest(absl::string_view token) {
  std::array<uint8_t, 32> out;
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), out.data());
  return out;
}

absl::string_view ToView(grpc::string_ref s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

const char* RoleName(Role role) {
  switch (role) {
    case Role::kRead: return "read";
    case Role::kWrite: return "write";
    case Role::kAdmin: return "admin";
  }
  return "read";
}

std::optional<Role> ParseRole(absl::string_view name) {
  for (Role r : {Role::kRead, Role::kWrite, Role::kAdmin}) {
    if (name == RoleName(r)) return r;
  }
  return std::nullopt;
}

absl::StatusOr<TokenTable> TokenTable::Parse(absl::string_view text) {
  TokenTable table;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    // The token itself never appears in an error message.
    if (fields.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_number, ": expected \"ROLE TOKEN\" (2 fields), got ",
                       fields.size()));
    }
    std::optional<Role> role = ParseRole(fields[0]);
    if (!role) {
      return absl::InvalidArgumentError(absl::StrCat(
          "line ", line_number, ": unknown role \"", fields[0], "\" (read, write or admin)"));
    }
    if (fields[1].size() < kMinTokenLength) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line_number, ": token shorter than ",
                                                     kMinTokenLength, " characters"));
    }
    Entry entry{Digest(fields[1]), *role};
    for (const Entry& e : table.entries_) {
      if (e.digest == entry.digest) {
        return absl::InvalidArgumentError(
            absl::StrCat("line ", line_number, ": token given twice"));
      }
    }
    table.entries_.push_back(entry);
  }
  return table;
}

absl::StatusOr<TokenTable> TokenTable::Load(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return absl::NotFoundError(
        absl::StrCat("cannot read token file ", path, ": ", text.status().message()));
  }
  absl::StatusOr<TokenTable> table = Parse(*text);
  if (!table.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("token file ", path, ": ",
                                                   table.status().message()));
  }
  return table;
}

std::optional<Role> TokenTable::Find(absl::string_view token) const {
  const std::array<uint8_t, 32> digest = Digest(token);
  int found = 0;  // the role's value; every entry is compared
  for (const Entry& e : entries_) {
    const int equal = CRYPTO_memcmp(e.digest.data(), digest.data(), digest.size()) == 0;
    found |= equal * static_cast<int>(e.role);
  }
  if (found == 0) return std::nullopt;
  return static_cast<Role>(found);
}

AuthPolicy AuthPolicy::Gateway() {
  AuthPolicy p;
  const std::string s = "/recsys.v1.Recommender/";
  for (const char* m : {"Recommend", "Search", "SimilarItems", "GetModelInfo", "Ask"}) {
    p.methods[s + m] = Role::kRead;
  }
  p.methods[s + "Feedback"] = Role::kWrite;
  p.methods[s + "GetHistory"] = Role::kAdmin;
  p.methods[s + "DeleteUser"] = Role::kAdmin;
  return p;
}

AuthPolicy AuthPolicy::WholeService(const std::string& service, Role role) {
  AuthPolicy p;
  p.service_prefix = absl::StrCat("/", service, "/");
  p.service_role = role;
  return p;
}

std::optional<Role> AuthPolicy::Required(absl::string_view method) const {
  for (const std::string& prefix : open_prefixes) {
    if (absl::StartsWith(method, prefix)) return std::nullopt;
  }
  if (auto it = methods.find(method); it != methods.end()) return it->second;
  if (!service_prefix.empty() && absl::StartsWith(method, service_prefix)) return service_role;
  return Role::kAdmin;
}

TokenAuthProcessor::TokenAuthProcessor(AuthPolicy policy, TokenTable tokens,
                                       prometheus::Registry* registry)
    : policy_(std::move(policy)),
      tokens_(std::make_shared<const TokenTable>(std::move(tokens))) {
  if (registry == nullptr) return;
  const AuthRejectedCounters counters = RegisterAuthRejectedCounters(*registry);
  missing_ = counters.missing_token;
  unknown_ = counters.unknown_token;
  role_ = counters.role;
}

AuthRejectedCounters RegisterAuthRejectedCounters(prometheus::Registry& registry) {
  auto& family = prometheus::BuildCounter()
                     .Name("recsys_auth_rejected_total")
                     .Help("Calls refused before reaching the service: no token or an "
                           "unknown one (UNAUTHENTICATED), or a role below the method's "
                           "(PERMISSION_DENIED). Always 0 without --auth_tokens.")
                     .Register(registry);
  return {&family.Add({{"reason", "missing_token"}}), &family.Add({{"reason", "unknown_token"}}),
          &family.Add({{"reason", "role"}})};
}

void TokenAuthProcessor::Replace(TokenTable tokens) {
  auto next = std::make_shared<const TokenTable>(std::move(tokens));
  absl::MutexLock lock(&mu_);
  tokens_ = std::move(next);
}

grpc::Status TokenAuthProcessor::Process(const InputMetadata& auth_metadata,
                                         grpc::AuthContext* /*context*/,
                                         OutputMetadata* consumed_auth_metadata,
                                         OutputMetadata* /*response_metadata*/) {
  // The AuthContext is shared by every call of the connection: nothing
  // per-call is stored there.
  absl::string_view method;
  if (auto it = auth_metadata.find(":path"); it != auth_metadata.end()) method = ToView(it->second);
  auto header = auth_metadata.find("authorization");
  absl::string_view authorization;
  if (header != auth_metadata.end()) {
    authorization = ToView(header->second);
    // Removed so that the service (and its access log) never sees the token.
    consumed_auth_metadata->emplace("authorization", std::string(authorization));
  }
  return Check(method, authorization);
}

grpc::Status TokenAuthProcessor::Check(absl::string_view method,
                                       absl::string_view authorization) {
  const std::optional<Role> required = policy_.Required(method);
  if (!required) return grpc::Status::OK;
  absl::string_view token;
  if (!authorization.empty()) {
    absl::string_view value = authorization;
    constexpr absl::string_view kScheme = "bearer ";
    if (value.size() > kScheme.size() &&
        absl::EqualsIgnoreCase(value.substr(0, kScheme.size()), kScheme)) {
      token = absl::StripAsciiWhitespace(value.substr(kScheme.size()));
    }
  }
  if (token.empty()) {
    if (missing_ != nullptr) missing_->Increment();
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing token: send \"authorization: Bearer TOKEN\"");
  }
  std::shared_ptr<const TokenTable> tokens;
  {
    absl::MutexLock lock(&mu_);
    tokens = tokens_;
  }
  const std::optional<Role> role = tokens->Find(token);
  if (!role) {
    if (unknown_ != nullptr) unknown_->Increment();
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unknown token");
  }
  if (static_cast<int>(*role) < static_cast<int>(*required)) {
    if (role_ != nullptr) role_->Increment();
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat("role ", RoleName(*role), " may not call ", method,
                                     " (needs ", RoleName(*required), ")"));
  }
  return grpc::Status::OK;
}

}  // namespace recsys
