#include "common/server/tls_credentials.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/io/file.h"

namespace recsys {
namespace {

// The file's contents, which must hold at least one PEM block.
absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what) {
  absl::StatusOr<std::string> pem = ReadFile(path);
  if (!pem.ok()) {
    return absl::NotFoundError(absl::StrCat("cannot read ", what, " ", path, ": ",
                                            pem.status().message()));
  }
  if (!absl::StrContains(*pem, "-----BEGIN ")) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", path, " holds no PEM block"));
  }
  return pem;
}

// Adds "authorization: Bearer TOKEN" to every call of a channel. Never logs it.
class BearerTokenPlugin final : public grpc::MetadataCredentialsPlugin {
 public:
  explicit BearerTokenPlugin(std::string token) : value_(absl::StrCat("Bearer ", token)) {}
  bool IsBlocking() const override { return false; }
  const char* GetType() const override { return "recsys-bearer-token"; }
  grpc::Status GetMetadata(grpc::string_ref /*service_url*/, grpc::string_ref /*method_name*/,
                           const grpc::AuthContext& /*channel_auth_context*/,
                           std::multimap<std::string, std::string>* metadata) override {
    metadata->emplace("authorization", value_);
    return grpc::Status::OK;
  }

 private:
  const std::string value_;
};

}  // namespace

std::string TlsServerFilesError(const TlsServerFiles& files) {
  if (files.cert_file.empty() != files.key_file.empty()) {
    return "--tls_cert and --tls_key go together";
  }
  if (!files.ca_file.empty() && files.cert_file.empty()) {
    return "--tls_ca needs --tls_cert and --tls_key (it verifies client certificates)";
  }
  if (files.require_client_cert && files.ca_file.empty()) {
    return "--tls_require_client_cert needs --tls_ca (the roots client certificates chain to)";
  }
  return "";
}

std::string TlsClientFilesError(const TlsClientFiles& files) {
  if (files.cert_file.empty() != files.key_file.empty()) {
    return "a client certificate and its key go together";
  }
  if (!files.cert_file.empty() && files.ca_file.empty()) {
    return "a client certificate needs the CA of the server's certificate (TLS)";
  }
  if (!files.server_name.empty() && files.ca_file.empty()) {
    return "a TLS server name override needs the CA of the server's certificate (TLS)";
  }
  return "";
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsServerFiles& files, std::shared_ptr<grpc::AuthMetadataProcessor> processor) {
  if (std::string bad = TlsServerFilesError(files); !bad.empty()) {
    return absl::InvalidArgumentError(bad);
  }
  std::shared_ptr<grpc::ServerCredentials> creds;
  if (files.enabled()) {
    grpc::SslServerCredentialsOptions options(
        files.require_client_cert ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
        : files.ca_file.empty()   ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                  : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
    grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
    auto cert = ReadPem(files.cert_file, "TLS certificate");
    if (!cert.ok()) return cert.status();
    auto key = ReadPem(files.key_file, "TLS key");
    if (!key.ok()) return key.status();
    pair.cert_chain = *std::move(cert);
    pair.private_key = *std::move(key);
    options.pem_key_cert_pairs.push_back(std::move(pair));
    if (!files.ca_file.empty()) {
      auto ca = ReadPem(files.ca_file, "TLS CA");
      if (!ca.ok()) return ca.status();
      options.pem_root_certs = *std::move(ca);
    }
    creds = grpc::SslServerCredentials(options);
  } else if (processor != nullptr) {
    creds = grpc::experimental::LocalServerCredentials(LOCAL_TCP);
  } else {
    return grpc::InsecureServerCredentials();  // takes no processor (it would abort)
  }
  if (processor != nullptr) creds->SetAuthMetadataProcessor(std::move(processor));
  return creds;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsClientFiles& files, const std::string& token, grpc::ChannelArguments* args) {
  if (std::string bad = TlsClientFilesError(files); !bad.empty()) {
    return absl::InvalidArgumentError(bad);
  }
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (files.enabled()) {
    grpc::SslCredentialsOptions options;
    auto ca = ReadPem(files.ca_file, "TLS CA");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *std::move(ca);
    if (!files.cert_file.empty()) {
      auto cert = ReadPem(files.cert_file, "client certificate");
      if (!cert.ok()) return cert.status();
      auto key = ReadPem(files.key_file, "client key");
      if (!key.ok()) return key.status();
      options.pem_cert_chain = *std::move(cert);
      options.pem_private_key = *std::move(key);
    }
    if (!files.server_name.empty()) args->SetSslTargetNameOverride(files.server_name);
    creds = grpc::SslCredentials(options);
  } else if (!token.empty()) {
    // Call credentials need a channel with a security connector; local
    // credentials are plaintext on the wire (and loopback only).
    creds = grpc::experimental::LocalCredentials(LOCAL_TCP);
  } else {
    return grpc::InsecureChannelCredentials();
  }
  if (token.empty()) return creds;
  // Security level NONE: also sent over local (plaintext loopback) channels.
  return grpc::CompositeChannelCredentials(
      creds, grpc::experimental::MetadataCredentialsFromPlugin(
                 std::make_unique<BearerTokenPlugin>(token), GRPC_SECURITY_NONE));
}

absl::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path, ": ", text.status().message()));
  }
  absl::string_view line = *text;
  if (size_t nl = line.find('\n'); nl != absl::string_view::npos) line = line.substr(0, nl);
  line = absl::StripAsciiWhitespace(line);
  if (line.empty()) return absl::InvalidArgumentError(absl::StrCat(path, " is empty"));
  return std::string(line);
}

}  // namespace recsys
