// Transport security of every recsys gRPC endpoint: TLS (optionally mutual)
// credentials built from PEM files, for servers and for the channels that call
// them, plus a bearer token carried as call credentials.
//
//   TlsServerFiles tls{.cert_file = "tls.crt", .key_file = "tls.key",
//                      .ca_file = "ca.crt", .require_client_cert = true};
//   ASSIGN_OR_RETURN(auto creds, MakeServerCredentials(tls, processor));
//   builder.AddListeningPort("0.0.0.0:50052", creds, &port);
//
// Plaintext stays possible (and is the default) for the demo on one host.
// Files are read once, when the credentials are made: a renewed certificate
// needs a restart (Kubernetes rolls the pods when the Secret changes).
#pragma once

#include <memory>
#include <string>

#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "absl/status/statusor.h"

namespace recsys {

// A server's certificate files. All empty = plaintext.
struct TlsServerFiles {
  // PEM certificate chain (leaf first) and its PEM private key: both or neither.
  std::string cert_file;
  std::string key_file;
  // PEM roots that client certificates must chain to. Set: a client that
  // presents a certificate must present a valid one. Requires cert_file.
  std::string ca_file;
  // Refuse the TLS handshake of a client without a valid certificate (mTLS).
  // Requires ca_file.
  bool require_client_cert = false;

  bool enabled() const { return !cert_file.empty(); }
};

// What a client needs to reach a TLS server. ca_file empty = plaintext.
struct TlsClientFiles {
  // PEM roots the server's certificate must chain to. Empty: plaintext.
  std::string ca_file;
  // The client's own PEM certificate chain and key, for servers that require
  // client certificates (mTLS): both or neither.
  std::string cert_file;
  std::string key_file;
  // Name checked against the server certificate's subject alternative names
  // instead of the target's host (e.g. a pod reached by IP, or "localhost"
  // certificates in tests). Empty = the target's host.
  std::string server_name;

  bool enabled() const { return !ca_file.empty(); }
};

// What is wrong with `files` ("" if nothing): key without certificate,
// client-certificate demand without a CA, and so on. Does not read the files.
std::string TlsServerFilesError(const TlsServerFiles& files);
std::string TlsClientFilesError(const TlsClientFiles& files);

// The listening credentials for `files` and `processor` (may be null; runs on
// every call, see token_auth.h):
//   TLS (files.enabled())  -> SslServerCredentials, with the processor;
//   plaintext + processor  -> gRPC's local credentials (LOCAL_TCP): plaintext,
//                             but only loopback peers may connect — gRPC runs a
//                             processor only on secure credentials, and a
//                             token must not cross a network in clear anyway;
//   plaintext, no processor -> InsecureServerCredentials (today's default).
// InvalidArgument for inconsistent files, NotFound / InvalidArgument naming
// the file when one cannot be read or holds no PEM block.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsServerFiles& files, std::shared_ptr<grpc::AuthMetadataProcessor> processor);

// Channel credentials for `files` (insecure when !files.enabled()). Sets the
// target-name override on `args` when files.server_name is set. With a
// non-empty `token`, every call carries "authorization: Bearer TOKEN" (call
// credentials; over plaintext the channel uses local credentials, which reach
// loopback targets only). Errors as MakeServerCredentials.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsClientFiles& files, const std::string& token, grpc::ChannelArguments* args);

// The first line of `path` without surrounding white space: a token or a key
// kept in a file (a mounted Secret) so it is not visible in the process list.
// NotFound if unreadable, InvalidArgument if empty.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path);

}  // namespace recsys
