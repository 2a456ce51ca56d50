// recsys-cli: a command-line client of the gateway.
//   recsys-cli recommend USER [--k 10] [--json]
//   recsys-cli feedback USER ITEM [--event click]
//   recsys-cli search TEXT...      recsys-cli similar ITEM
//   recsys-cli history USER        recsys-cli info        recsys-cli health
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "recsys/v1/recommender.grpc.pb.h"

ABSL_FLAG(std::string, target, "localhost:50051", "Gateway address");
ABSL_FLAG(int, k, 10, "Number of items");
ABSL_FLAG(bool, json, false, "Print the response as JSON (for scripts)");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(2), "Per-call deadline");
ABSL_FLAG(std::string, event, "click", "Feedback event type");
ABSL_FLAG(bool, debug, false, "Ask Recommend for per-stage timings");
ABSL_FLAG(std::string, service, "", "health: service name to check (empty = overall)");

namespace {

using recsys::v1::Recommender;

void SetDeadline(grpc::ClientContext* ctx) {
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::GetFlag(FLAGS_deadline)));
}

int Fail(const grpc::Status& s) {
  std::cerr << "error: " << s.error_code() << " " << s.error_message() << "\n";
  return 1;
}

int PrintJson(const google::protobuf::Message& m) {
  std::string json;
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &json, o);
  std::cout << json;
  return 0;
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

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "recsys-cli recommend USER | feedback USER ITEM | search TEXT | similar ITEM | history USER "
      "| info | health");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() < 2) {
    std::cerr << absl::ProgramUsageMessage() << "\n";
    return 2;
  }
  const std::string cmd = args[1];
  auto channel = grpc::CreateChannel(absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials());
  auto stub = Recommender::NewStub(channel);
  const bool json = absl::GetFlag(FLAGS_json);
  auto need = [&](size_t n) {
    if (args.size() < n) {
      std::cerr << "usage: " << absl::ProgramUsageMessage() << "\n";
      std::exit(2);
    }
  };

  if (cmd == "recommend") {
    need(3);
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
    need(4);
    recsys::v1::FeedbackRequest req;
    req.set_user_id(args[2]);
    req.set_item_id(args[3]);
    req.set_event(absl::GetFlag(FLAGS_event));
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
    need(3);
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
  if (cmd == "similar") {
    need(3);
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
    need(3);
    recsys::v1::GetHistoryRequest req;
    req.set_user_id(args[2]);
    req.set_max_events(absl::GetFlag(FLAGS_k));
    recsys::v1::GetHistoryResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = stub->GetHistory(&ctx, req, &resp);
    if (!s.ok()) return Fail(s);
    if (json) return PrintJson(resp);
    for (const auto& e : resp.events()) {
      std::cout << absl::FormatTime("%Y-%m-%d %H:%M:%S  ", absl::FromUnixSeconds(e.timestamp_s()),
                                    absl::UTCTimeZone())
                << e.item_id() << "\n";
    }
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
    std::cout << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status()) << "\n";
    return resp.status() == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
  }
  std::cerr << "unknown command '" << cmd << "'\n" << absl::ProgramUsageMessage() << "\n";
  return 2;
}
