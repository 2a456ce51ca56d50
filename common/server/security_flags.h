// The transport-security and authentication flags every service binary
// shares, next to --metrics_address (server_main_util.h):
//   --tls_cert, --tls_key     PEM certificate chain and key: the gRPC port speaks TLS
//   --tls_ca                  PEM roots client certificates must chain to
//   --tls_require_client_cert refuse clients without a valid certificate (mTLS)
//   --auth_tokens             token file (token_auth.h); every non-probe call needs a token
// All empty (the default): plaintext, no tokens — the demo on one host.
//
//   std::string bad = ...;  if (bad.empty()) bad = recsys::ServerSecurityFlagError();
//   ... FinishStartupChecks ...
//   std::shared_ptr<recsys::TokenAuthProcessor> auth;
//   if (auto s = recsys::ApplyServerSecurityFlags(AuthPolicy::Gateway(), metrics.get(),
//                                                 &o.server, &auth);
//       !s.ok()) { LOG(ERROR) << s; return 1; }
//   ... ServeUntilTerminated(..., [&] { recsys::ReloadTokensOnHangup(auth.get()); });
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/server/metrics.h"
#include "common/server/server_main_util.h"
#include "common/server/token_auth.h"

namespace recsys {

// What is wrong with the flags' combination ("" if nothing). Reads no file.
std::string ServerSecurityFlagError();

// Sets options->tls from the flags and, with --auth_tokens, loads the token
// file into a processor enforcing `policy` (options->auth, and *processor for
// reloads; null without --auth_tokens). Logs the resulting mode (never a
// token). NotFound / InvalidArgument when a file cannot be used.
// Rejections are counted in `metrics` (may be null; must outlive the server).
absl::Status ApplyServerSecurityFlags(const AuthPolicy& policy, ServerMetrics* metrics,
                                      ServerOptions* options,
                                      std::shared_ptr<TokenAuthProcessor>* processor);

// The key in `path` (first line, trimmed; see rank_signals.h), "" when `path`
// is empty. InvalidArgument when shorter than kMinSignalsKeyBytes. Logs
// whether signals are authenticated (never the key). `binary` names the
// service in that line.
absl::StatusOr<std::string> LoadSignalsKey(const std::string& path, const std::string& binary);

// SIGHUP: re-reads --auth_tokens into `processor` (no-op when null) and logs
// the number of tokens, or keeps the previous ones and logs why.
void ReloadTokensOnHangup(TokenAuthProcessor* processor);

}  // namespace recsys
