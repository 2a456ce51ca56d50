#include "common/server/security_flags.h"

#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/server/rank_signals.h"

ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain of the gRPC port (with --tls_key): the port speaks TLS. "
          "Empty = plaintext");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA certificates that client certificates must chain to (a client presenting "
          "one must present a valid one); needs --tls_cert");
ABSL_FLAG(bool, tls_require_client_cert, false,
          "Refuse clients without a valid certificate signed by --tls_ca (mutual TLS)");
ABSL_FLAG(std::string, auth_tokens, "",
          "Token file, lines \"ROLE TOKEN\" (roles read, write, admin; '#' comments): every "
          "call except health and reflection needs \"authorization: Bearer TOKEN\" with a "
          "role allowed to call the method. Re-read on SIGHUP. Without TLS only loopback "
          "clients may connect. Empty = no tokens");

namespace recsys {
namespace {

TlsServerFiles FilesFromFlags() {
  TlsServerFiles files;
  files.cert_file = absl::GetFlag(FLAGS_tls_cert);
  files.key_file = absl::GetFlag(FLAGS_tls_key);
  files.ca_file = absl::GetFlag(FLAGS_tls_ca);
  files.require_client_cert = absl::GetFlag(FLAGS_tls_require_client_cert);
  return files;
}

}  // namespace

std::string ServerSecurityFlagError() { return TlsServerFilesError(FilesFromFlags()); }

absl::Status ApplyServerSecurityFlags(const AuthPolicy& policy, ServerMetrics* metrics,
                                      ServerOptions* options,
                                      std::shared_ptr<TokenAuthProcessor>* processor) {
  options->tls = FilesFromFlags();
  processor->reset();
  const std::string tokens_file = absl::GetFlag(FLAGS_auth_tokens);
  size_t num_tokens = 0;
  if (!tokens_file.empty()) {
    absl::StatusOr<TokenTable> tokens = TokenTable::Load(tokens_file);
    if (!tokens.ok()) return tokens.status();
    num_tokens = tokens->size();
    *processor = std::make_shared<TokenAuthProcessor>(
        policy, *std::move(tokens), metrics != nullptr ? &metrics->registry() : nullptr);
  } else if (metrics != nullptr) {
    RegisterAuthRejectedCounters(metrics->registry());  // at 0: nothing is checked
  }
  options->auth = *processor;
  const TlsServerFiles& tls = options->tls;
  LOG(INFO) << "gRPC transport: "
            << (!tls.enabled()              ? "plaintext"
                : tls.require_client_cert   ? "TLS, client certificates required (mTLS)"
                : !tls.ca_file.empty()      ? "TLS, client certificates verified when presented"
                                            : "TLS")
            << "; tokens: "
            << (tokens_file.empty() ? std::string("off")
                                    : absl::StrCat(num_tokens, " from ", tokens_file))
            << (!tls.enabled() && !tokens_file.empty() ? " (plaintext: loopback clients only)"
                                                       : "");
  return absl::OkStatus();
}

absl::StatusOr<std::string> LoadSignalsKey(const std::string& path, const std::string& binary) {
  if (path.empty()) {
    LOG(INFO) << binary << ": candidate signals are not authenticated (no --signals_key_file)";
    return std::string();
  }
  absl::StatusOr<std::string> key = ReadSecretFile(path);
  if (!key.ok()) return key.status();
  if (key->size() < kMinSignalsKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("--signals_key_file ", path, ": key shorter than ",
                                                   kMinSignalsKeyBytes, " bytes"));
  }
  LOG(INFO) << binary << ": candidate signals authenticated with HMAC-SHA256 (key from " << path
            << ")";
  return key;
}

void ReloadTokensOnHangup(TokenAuthProcessor* processor) {
  if (processor == nullptr) return;
  const std::string path = absl::GetFlag(FLAGS_auth_tokens);
  absl::StatusOr<TokenTable> tokens = TokenTable::Load(path);
  if (!tokens.ok()) {
    LOG(ERROR) << "SIGHUP: kept the previous tokens: " << tokens.status();
    return;
  }
  const size_t n = tokens->size();
  processor->Replace(*std::move(tokens));
  LOG(INFO) << "SIGHUP: re-read " << path << ": " << n << " tokens";
}

}  // namespace recsys
