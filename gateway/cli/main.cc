// recsys-cli: a command-line client of the gateway.
//   recsys-cli recommend USER [--k 10]     recsys-cli feedback USER ITEM [--event click]
//   recsys-cli search TEXT...              recsys-cli similar ITEM
//   recsys-cli history USER [--k 10]       recsys-cli delete-user USER
//   recsys-cli info                        recsys-cli health [--service NAME]
//   recsys-cli ask QUESTION... [--k 10]    (cited items, at most 20)
// Every command takes --output=text|json. With json, stdout carries exactly one
// JSON document, errors included: {"error": {"code": "INVALID_ARGUMENT",
// "message": "..."}}. Exit codes: 0 ok, 1 the RPC failed (or health is not
// SERVING), 2 usage error (unknown command, wrong argument count, bad flag).
// A gateway with TLS and tokens (README "Security"): --tls_ca=CA.pem (plus
// --tls_cert/--tls_key for one that requires client certificates) and
// --token_file=FILE (or --token, or $RECSYS_TOKEN).
#include <cstdlib>
#include <iostream>
#include <map>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/cli_flags.h"
#include "common/server/tls_credentials.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "recsys/v1/recommender.grpc.pb.h"

ABSL_FLAG(std::string, target, "localhost:50051", "Gateway address");
ABSL_FLAG(int, k, 10,
          "Number of items (recommend, search, similar), events (history) or cited items (ask, "
          "at most 20)");
ABSL_FLAG(std::string, output, "text",
          "Output format: text (for people) or json (one JSON document on stdout, errors "
          "included, for scripts)");
ABSL_FLAG(bool, json, false, "Deprecated: same as --output=json");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(2), "Per-call deadline");
ABSL_FLAG(std::string, event, "click", "Feedback event type: click, view, like, purchase or dislike");
ABSL_FLAG(bool, debug, false, "Ask Recommend for per-stage timings");
ABSL_FLAG(std::string, service, "", "health: service name to check (empty = overall)");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA the gateway's certificate must chain to: connect over TLS. Empty = plaintext");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM client certificate, for a server that requires one (with --tls_key and --tls_ca)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_server_name, "",
          "Name to check the server certificate against instead of the --target host");
ABSL_FLAG(std::string, token, "",
          "Bearer token sent with every call (visible in the process list: prefer "
          "--token_file or $RECSYS_TOKEN)");
ABSL_FLAG(std::string, token_file, "", "File whose first line is the bearer token");

namespace {

using recsys::v1::Recommender;

constexpr int kExitRpcError = 1;
constexpr int kExitUsage = 2;

bool json = false;
// "Bearer TOKEN", or empty: sent with every call.
std::string authorization;

// Every call's deadline and token.
void SetDeadline(grpc::ClientContext* ctx) {
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::GetFlag(FLAGS_deadline)));
  if (!authorization.empty()) ctx->AddMetadata("authorization", authorization);
}

int PrintJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  std::cout << out;
  return 0;
}

// {"error": {"code": CODE, "message": MESSAGE}} on stdout.
void PrintJsonError(const std::string& code, const std::string& message) {
  google::protobuf::Struct doc;
  google::protobuf::Struct* error =
      (*doc.mutable_fields())["error"].mutable_struct_value();
  (*error->mutable_fields())["code"].set_string_value(code);
  (*error->mutable_fields())["message"].set_string_value(message);
  PrintJson(doc);
}

// The status's code by name (gRPC and absl share the numbering).
std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

int Fail(const grpc::Status& s) {
  if (json) {
    PrintJsonError(CodeName(s.error_code()), s.error_message());
  } else {
    std::cerr << "error: " << CodeName(s.error_code()) << ": " << s.error_message() << "\n";
  }
  return kExitRpcError;
}

int UsageError(const std::string& message) {
  if (json) PrintJsonError("USAGE", message);
  std::cerr << "usage error: " << message << "\n" << absl::ProgramUsageMessage() << "\n";
  return kExitUsage;
}

void PrintItems(const google::protobuf::RepeatedPtrField<recsys::v1::ScoredItem>& items) {
  std::cout << absl::StrFormat("%-4s %-12s %-9s %-50s %s\n", "#", "item", "score", "title",
                               "categories");
  int n = 0;
  for (const auto& it : items) {
    std::cout << absl::StrFormat("%-4d %-12s %-9.4f %-50s %s\n", ++n, it.item_id(), it.score(),
                                 it.title().substr(0, 50), absl::StrJoin(it.categories(), "|"));
  }
}

const char* PathName(recsys::v1::Path p) {
  return recsys::v1::Path_Name(p).c_str();
}

// Positional arguments each command takes (after its name): {min, max}; max -1
// = any number.
const std::map<std::string, std::pair<int, int>>& Arity() {
  static const auto* arity = new std::map<std::string, std::pair<int, int>>{
      {"recommend", {1, 1}}, {"feedback", {2, 2}}, {"search", {1, -1}},
      {"similar", {1, 1}},   {"history", {1, 1}},  {"delete-user", {1, 1}},
      {"info", {0, 0}},      {"health", {0, 0}},   {"ask", {1, -1}}};
  return *arity;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args = recsys::ParseFlags(
      argc, argv, "recsys-cli",
      "[--target HOST:PORT] [--output text|json] COMMAND\n"
      "  recommend USER | feedback USER ITEM | search TEXT... | similar ITEM | history USER\n"
      "  | delete-user USER | info | health | ask QUESTION...\n"
      "exit codes: 0 ok, 1 RPC error, 2 usage error");
  const std::string output = absl::GetFlag(FLAGS_output);
  json = output == "json" || absl::GetFlag(FLAGS_json);
  if (output != "text" && output != "json") {
    return UsageError(absl::StrCat("--output must be text or json, not '", output, "'"));
  }
  if (args.size() < 2) return UsageError("missing command");
  const std::string cmd = args[1];
  const auto arity = Arity().find(cmd);
  if (arity == Arity().end()) return UsageError(absl::StrCat("unknown command '", cmd, "'"));
  const int given = static_cast<int>(args.size()) - 2;
  const auto [min_args, max_args] = arity->second;
  if (given < min_args || (max_args >= 0 && given > max_args)) {
    return UsageError(absl::StrCat(cmd, " takes ",
                                   max_args < 0 ? absl::StrCat("at least ", min_args)
                                   : min_args == max_args ? absl::StrCat(min_args)
                                                          : absl::StrCat(min_args, "..", max_args),
                                   " argument(s), got ", given));
  }
  std::string token = absl::GetFlag(FLAGS_token);
  if (token.empty() && !absl::GetFlag(FLAGS_token_file).empty()) {
    absl::StatusOr<std::string> read = recsys::ReadSecretFile(absl::GetFlag(FLAGS_token_file));
    if (!read.ok()) return UsageError(absl::StrCat("--token_file: ", read.status().message()));
    token = *std::move(read);
  }
  if (token.empty()) {
    if (const char* env = std::getenv("RECSYS_TOKEN"); env != nullptr) token = env;
  }
  if (!token.empty()) authorization = absl::StrCat("Bearer ", token);
  recsys::TlsClientFiles tls;
  tls.ca_file = absl::GetFlag(FLAGS_tls_ca);
  tls.cert_file = absl::GetFlag(FLAGS_tls_cert);
  tls.key_file = absl::GetFlag(FLAGS_tls_key);
  tls.server_name = absl::GetFlag(FLAGS_tls_server_name);
  grpc::ChannelArguments channel_args;
  // The token goes per call (SetDeadline), so it also reaches a plaintext
  // server on another host when asked to.
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds =
      recsys::MakeChannelCredentials(tls, /*token=*/"", &channel_args);
  if (!creds.ok()) {
    return UsageError(absl::StrCat("TLS flags: ", creds.status().message()));
  }
  auto channel = grpc::CreateCustomChannel(absl::GetFlag(FLAGS_target), *creds, channel_args);
  auto stub = Recommender::NewStub(channel);

  if (cmd == "recommend") {
    recsys::v1::RecommendRequest req;
    req.set_user_id(args[2]);
    req.set_k(absl::GetFlag(FLAGS_k));
    req.set_debug(absl::GetFlag(FLAGS_debug));
    recsys::v1::RecommendResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = stub->Recommend(&ctx, req, &resp);
    if (!s.ok()) return Fail(s);
    if (json) return PrintJson(resp);
    std::cout << "user " << req.user_id() << "  path " << PathName(resp.path())
              << (resp.degraded() ? " (degraded)" : "") << "  model " << resp.model_version()
              << "\n";
    for (const auto& n : resp.notes()) std::cout << "  note: " << n << "\n";
    for (const auto& t : resp.timings()) std::cout << "  " << t.stage() << ": " << t.micros() << " us\n";
    PrintItems(resp.items());
    return 0;
  }
  if (cmd == "feedback") {
    recsys::v1::FeedbackRequest req;
    req.set_user_id(args[2]);
    req.set_item_id(args[3]);
    // A known name travels as the enum too; the gateway refuses unknown names.
    const std::string event = absl::GetFlag(FLAGS_event);
    req.set_event(event);
    recsys::v1::EventType type;
    if (recsys::v1::EventType_Parse("EVENT_" + absl::AsciiStrToUpper(event), &type)) {
      req.set_event_type(type);
    }
    recsys::v1::FeedbackResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = stub->Feedback(&ctx, req, &resp);
    if (!s.ok()) return Fail(s);
    if (json) return PrintJson(resp);
    std::cout << "recorded " << req.event() << " of " << req.item_id() << " by " << req.user_id()
              << " (durable, sequence " << resp.sequence() << ")\n";
    return 0;
  }
  if (cmd == "search") {
    recsys::v1::SearchRequest req;
    std::vector<std::string> words(args.begin() + 2, args.end());
    req.set_query(absl::StrJoin(words, " "));
    req.set_k(absl::GetFlag(FLAGS_k));
    recsys::v1::SearchResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = stub->Search(&ctx, req, &resp);
    if (!s.ok()) return Fail(s);
    if (json) return PrintJson(resp);
    std::cout << "search \"" << req.query() << "\"\n";
    PrintItems(resp.items());
    return 0;
  }
  if (cmd == "ask") {
    recsys::v1::AskRequest req;
    std::vector<std::string> words(args.begin() + 2, args.end());
    req.set_question(absl::StrJoin(words, " "));
    req.set_k(absl::GetFlag(FLAGS_k));
    recsys::v1::AskResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = stub->Ask(&ctx, req, &resp);
    if (!s.ok()) return Fail(s);
    if (json) return PrintJson(resp);
    std::cout << "ask \"" << req.question() << "\"  mode " << resp.mode() << "  model "
              << resp.model_version() << "\n";
    for (const auto& n : resp.notes()) std::cout << "  note: " << n << "\n";
    std::cout << resp.answer() << "\n";
    // The snippet column names the field quoted: the title or the category list.
    std::cout << absl::StrFormat("%-4s %-12s %-9s %-50s %-30s %s\n", "#", "item", "score", "title",
                                 "categories", "snippet");
    int n = 0;
    for (const auto& c : resp.citations()) {
      std::cout << absl::StrFormat("%-4d %-12s %-9.4f %-50s %-30s %s\n", ++n, c.item_id(),
                                   c.score(), c.title().substr(0, 50),
                                   absl::StrJoin(c.categories(), "|"),
                                   c.snippet() == c.title() ? "title" : "categories");
    }
    return 0;
  }
  if (cmd == "similar") {
    recsys::v1::SimilarItemsRequest req;
    req.set_item_id(args[2]);
    req.set_k(absl::GetFlag(FLAGS_k));
    recsys::v1::SimilarItemsResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = stub->SimilarItems(&ctx, req, &resp);
    if (!s.ok()) return Fail(s);
    if (json) return PrintJson(resp);
    std::cout << "similar by content:\n";
    PrintItems(resp.content());
    std::cout << "similar by co-consumption:\n";
    PrintItems(resp.collaborative());
    return 0;
  }
  if (cmd == "history") {
    recsys::v1::GetHistoryRequest req;
    req.set_user_id(args[2]);
    req.set_max_events(absl::GetFlag(FLAGS_k));
    recsys::v1::GetHistoryResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = stub->GetHistory(&ctx, req, &resp);
    if (!s.ok()) return Fail(s);
    if (json) return PrintJson(resp);
    std::cout << absl::StrFormat("%-19s  %-12s %-8s %s\n", "time (UTC)", "item", "event", "title");
    for (const auto& e : resp.events()) {
      std::cout << absl::StrFormat(
          "%-19s  %-12s %-8s %s\n",
          absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixSeconds(e.timestamp_s()),
                           absl::UTCTimeZone()),
          e.item_id(), e.event(), e.title());
    }
    return 0;
  }
  if (cmd == "delete-user") {
    recsys::v1::DeleteUserRequest req;
    req.set_user_id(args[2]);
    recsys::v1::DeleteUserResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = stub->DeleteUser(&ctx, req, &resp);
    if (!s.ok()) return Fail(s);
    if (json) return PrintJson(resp);
    std::cout << "erased " << resp.erased_events() << " events of " << req.user_id()
              << " (durable, sequence " << resp.sequence() << ")\n";
    return 0;
  }
  if (cmd == "info") {
    recsys::v1::GetModelInfoResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = stub->GetModelInfo(&ctx, recsys::v1::GetModelInfoRequest(), &resp);
    if (!s.ok()) return Fail(s);
    // The manifest is printed as structured fields; its JSON-string copy is
    // for older clients only.
    if (resp.has_manifest()) resp.clear_manifest_json();
    if (json) return PrintJson(resp);
    // One line per backend: its live state, then the version it serves (or
    // served last) and when the gateway last reached it.
    auto backend_line = [](const char* stage, const recsys::v1::BackendStatus& b) {
      const std::string& name = recsys::v1::BackendState_Name(b.state());
      absl::string_view state = name;
      absl::ConsumePrefix(&state, "BACKEND_STATE_");
      std::string line = absl::StrCat(stage, " ", state);
      if (!b.detail().empty()) absl::StrAppend(&line, " (", b.detail(), ")");
      if (!b.version().empty()) {
        absl::StrAppend(&line, b.state() == recsys::v1::BACKEND_STATE_AVAILABLE
                                   ? ", serves "
                                   : ", last served ",
                        b.version());
      }
      absl::StrAppend(&line, ", last contact ",
                      b.last_contact_unix_ms() == 0
                          ? "never"
                          : absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                                             absl::FromUnixMillis(b.last_contact_unix_ms()),
                                             absl::UTCTimeZone()));
      return line;
    };
    const recsys::v1::BundleManifest& m = resp.manifest();
    std::cout << "model " << resp.model_name() << " version " << resp.model_version();
    if (!m.kind().empty()) std::cout << " (" << m.kind() << ", created " << m.created_at() << ")";
    std::cout << "\n"
              << backend_line("retrieval", resp.retrieval()) << "\n"
              << backend_line("ranking", resp.ranking()) << "\n"
              << resp.num_items() << " items, " << resp.num_users() << " users in the store\n";
    return 0;
  }
  if (cmd == "health") {
    auto health = grpc::health::v1::Health::NewStub(channel);
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(absl::GetFlag(FLAGS_service));
    grpc::health::v1::HealthCheckResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = health->Check(&ctx, req, &resp);
    if (!s.ok()) return Fail(s);
    const std::string status =
        grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status());
    if (json) {
      google::protobuf::Struct doc;
      (*doc.mutable_fields())["service"].set_string_value(req.service());
      (*doc.mutable_fields())["status"].set_string_value(status);
      PrintJson(doc);
    } else {
      std::cout << status << "\n";
    }
    return resp.status() == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
  }
  return UsageError(absl::StrCat("unknown command '", cmd, "'"));
}
