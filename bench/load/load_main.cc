// recsys-load: drives recsys.v1.Recommender (Recommend, Feedback or Search) with a
// closed loop (--concurrency N calls always outstanding) or an open loop (--rate R
// calls per second on a fixed schedule, latency measured from each call's intended
// send time, so a slow server cannot slow the load down and hide its own latency).
//
//   recsys-load --target localhost:50051 --data data/ml-latest-small
//       --concurrency 32 --duration 30s --warmup 5s --json out/load.json
//   recsys-load --rate 2000 --duration 60s --users users.txt
//
// Calls use gRPC's callback API: completions run on gRPC's own threads, and the
// only thread of ours is main (it paces the open loop, or just waits).
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/status.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "bench/load/load_stats.h"
#include "common/cli_flags.h"
#include "common/data/loader.h"
#include "common/log.h"
#include "common/status.h"
#include "common/server/tls_credentials.h"
#include "recsys/v1/recommender.grpc.pb.h"

ABSL_FLAG(std::string, target, "localhost:50051", "Server address (any gRPC target URI)");
ABSL_FLAG(std::string, method, "recommend", "RPC to call: recommend, feedback or search");
ABSL_FLAG(std::string, users, "", "File of user ids, one per line (recommend, feedback)");
ABSL_FLAG(std::string, items, "", "File of item ids, one per line (feedback)");
ABSL_FLAG(std::string, queries, "", "File of search queries, one per line (search)");
ABSL_FLAG(std::string, data, "",
          "Data set directory: its external user ids, item ids and item titles (as "
          "search queries) are used where --users / --items / --queries are not given");
ABSL_FLAG(int, k, 10, "Items asked for per Recommend / Search");
ABSL_FLAG(std::string, event, "click", "Event type sent by Feedback");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(1), "Deadline of each call");
ABSL_FLAG(int, connections, 1,
          "Channels (each its own TCP connection); calls go round-robin over them");
ABSL_FLAG(int, concurrency, 1, "Closed loop: calls kept outstanding (ignored with --rate)");
ABSL_FLAG(double, rate, 0,
          "Open loop: calls per second on a fixed schedule; latency counts from the "
          "intended send time. 0 = closed loop");
ABSL_FLAG(int64_t, max_outstanding, 10000,
          "Open loop: calls due while this many are outstanding are not sent but "
          "counted as errors \"client overloaded\"");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10),
          "Measured run time after the warm-up (0 = until --count)");
ABSL_FLAG(int64_t, count, 0, "Stop after this many measured calls (0 = until --duration)");
ABSL_FLAG(absl::Duration, warmup, absl::ZeroDuration(),
          "Load applied before measuring; excluded from every statistic");
ABSL_FLAG(absl::Duration, connect_timeout, absl::Seconds(10),
          "How long to wait for every channel to connect before starting");
ABSL_FLAG(uint64_t, seed, 42, "Seed of the order in which ids are drawn");
ABSL_FLAG(std::string, json, "", "Also write ghz's JSON report to this file");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA the server's certificate must chain to: connect over TLS. Empty = plaintext");
ABSL_FLAG(std::string, tls_cert, "", "PEM client certificate (mTLS; with --tls_key)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_server_name, "",
          "Name to check the server certificate against instead of the --target host");
ABSL_FLAG(std::string, token_file, "",
          "File whose first line is the bearer token sent with every call (over plaintext "
          "only to loopback targets). Empty = none");

namespace recsys::load {
namespace {

enum class Method { kRecommend, kFeedback, kSearch };

// Set by SIGINT/SIGTERM: stop sending, wait for outstanding calls, report.
std::atomic<bool> g_interrupted{false};
void OnSignal(int) { g_interrupted.store(true); }

struct RunOptions {
  Method method = Method::kRecommend;
  int k = 10;
  std::string event;
  absl::Duration deadline;
  int concurrency = 1;
  double rate = 0;  // > 0: open loop
  int64_t max_outstanding = 10000;
  absl::Duration duration;  // zero = unbounded
  int64_t count = 0;        // zero = unbounded
  absl::Duration warmup;
};

// Ids the requests are drawn from, each list shuffled once by --seed.
struct RequestSource {
  std::vector<std::string> users;
  std::vector<std::string> items;
  std::vector<std::string> queries;
};

// One call in flight. IMPORTANT: owned by gRPC from the moment the call starts
// until its completion callback, which alone reads and deletes it.
template <typename Request, typename Response>
struct Call {
  grpc::ClientContext context;
  Request request;
  Response response;
  absl::Time intended;  // latency is measured from here
  bool measured = false;
};

// Runs one load test. Thread-safe where gRPC needs it: completions arrive on
// gRPC threads and may start the next call (closed loop).
class Runner {
 public:
  Runner(const RunOptions& options,
         std::vector<std::unique_ptr<recsys::v1::Recommender::Stub>> stubs,
         const RequestSource& source, Clock& clock, StatsRecorder& recorder)
      : options_(options),
        stubs_(std::move(stubs)),
        source_(source),
        clock_(clock),
        recorder_(recorder) {}

  // Both block until the run is over and every call has completed.
  void RunClosedLoop() {
    Begin();
    for (int i = 0; i < options_.concurrency; ++i) MaybeStartNext();
    Finish();
  }

  void RunOpenLoop() {
    Begin();
    OpenLoopScheduler schedule(options_.rate, start_, end_);
    int64_t measured_due = 0;
    while (!g_interrupted.load(std::memory_order_relaxed)) {
      std::optional<OpenLoopScheduler::Tick> tick = schedule.Next(clock_);
      if (!tick) break;
      const bool measured = tick->intended >= measure_start_;
      if (measured && options_.count > 0 && measured_due++ >= options_.count) break;
      const absl::Duration lag = clock_.Now() - tick->intended;
      if (lag > max_send_lag_) max_send_lag_ = lag;
      // outstanding_ includes this thread's guard.
      if (outstanding_.load(std::memory_order_relaxed) - 1 >= options_.max_outstanding) {
        if (measured) {
          recorder_.RecordClientOverloaded();
          NoteCompletion(clock_.Now());
        }
        continue;
      }
      Launch(tick->intended, measured);
    }
    Finish();
  }

  // First intended send of the measured part .. last measured completion.
  absl::Duration measured_time() const {
    const int64_t ns = last_completion_ns_.load();
    return ns < 0 ? absl::ZeroDuration() : absl::Nanoseconds(ns);
  }
  // Open loop: how far the sending thread fell behind its schedule at worst.
  absl::Duration max_send_lag() const { return max_send_lag_; }

 private:
  void Begin() {
    start_ = clock_.Now();
    measure_start_ = start_ + options_.warmup;
    end_ = options_.duration > absl::ZeroDuration() ? measure_start_ + options_.duration
                                                    : absl::InfiniteFuture();
    outstanding_.store(1);  // this thread's guard: released by Finish()
  }

  void Finish() {
    Release();
    done_.WaitForNotification();
  }

  void Release() {
    if (outstanding_.fetch_sub(1) == 1) done_.Notify();
  }

  // Closed loop: starts the next call unless the run is over.
  void MaybeStartNext() {
    if (g_interrupted.load(std::memory_order_relaxed)) return;
    const absl::Time now = clock_.Now();
    if (now >= end_) return;
    const bool measured = now >= measure_start_;
    if (measured && options_.count > 0 && measured_started_.fetch_add(1) >= options_.count) {
      return;
    }
    Launch(now, measured);
  }

  void Launch(absl::Time intended, bool measured) {
    outstanding_.fetch_add(1);
    const uint64_t seq = next_seq_.fetch_add(1);
    recsys::v1::Recommender::Stub* stub = stubs_[seq % stubs_.size()].get();
    switch (options_.method) {
      case Method::kRecommend: {
        auto call = std::make_unique<Call<v1::RecommendRequest, v1::RecommendResponse>>();
        call->request.set_user_id(Pick(source_.users, seq));
        call->request.set_k(options_.k);
        Start(std::move(call), intended, measured, [stub](auto* c, auto done) {
          stub->async()->Recommend(&c->context, &c->request, &c->response, std::move(done));
        });
        break;
      }
      case Method::kFeedback: {
        auto call = std::make_unique<Call<v1::FeedbackRequest, v1::FeedbackResponse>>();
        call->request.set_user_id(Pick(source_.users, seq));
        call->request.set_item_id(Pick(source_.items, seq));
        call->request.set_event(options_.event);
        Start(std::move(call), intended, measured, [stub](auto* c, auto done) {
          stub->async()->Feedback(&c->context, &c->request, &c->response, std::move(done));
        });
        break;
      }
      case Method::kSearch: {
        auto call = std::make_unique<Call<v1::SearchRequest, v1::SearchResponse>>();
        call->request.set_query(Pick(source_.queries, seq));
        call->request.set_k(options_.k);
        Start(std::move(call), intended, measured, [stub](auto* c, auto done) {
          stub->async()->Search(&c->context, &c->request, &c->response, std::move(done));
        });
        break;
      }
    }
  }

  // Hands `call` to gRPC through `invoke(call*, callback)`.
  template <typename CallT, typename Invoke>
  void Start(std::unique_ptr<CallT> call, absl::Time intended, bool measured, Invoke invoke) {
    call->intended = intended;
    call->measured = measured;
    call->context.set_deadline(std::chrono::system_clock::now() +
                               absl::ToChronoNanoseconds(options_.deadline));
    CallT* raw = call.release();
    // From here `raw` belongs to the call: only the callback touches it (it may
    // already have run, on another thread, when invoke returns).
    invoke(raw, [this, raw](grpc::Status status) {
      const absl::Time completed = clock_.Now();
      std::unique_ptr<CallT> owned(raw);
      const absl::Time intended = owned->intended;
      const bool measured = owned->measured;
      if (measured) {
        recorder_.Record(static_cast<int>(status.error_code()), status.error_message(),
                         LatencyFromIntended(intended, completed));
        if (status.ok()) RecordAnswer(owned->response);
      }
      owned.reset();
      OnComplete(measured, completed);
    });
  }

  // Recommend answers say which path produced them and whether they are degraded.
  void RecordAnswer(const v1::RecommendResponse& response) {
    recorder_.RecordAnswer(v1::Path_Name(response.path()), response.degraded(),
                           response.degraded() ? absl::StrJoin(response.notes(), "; ") : "");
  }
  template <typename Response>
  void RecordAnswer(const Response&) {}

  void OnComplete(bool measured, absl::Time completed) {
    if (measured) NoteCompletion(completed);
    if (options_.rate <= 0) MaybeStartNext();
    Release();
  }

  void NoteCompletion(absl::Time completed) {
    const int64_t ns = absl::ToInt64Nanoseconds(completed - measure_start_);
    int64_t seen = last_completion_ns_.load();
    while (ns > seen && !last_completion_ns_.compare_exchange_weak(seen, ns)) {
    }
  }

  static const std::string& Pick(const std::vector<std::string>& ids, uint64_t seq) {
    return ids[seq % ids.size()];
  }

  const RunOptions options_;
  const std::vector<std::unique_ptr<recsys::v1::Recommender::Stub>> stubs_;
  const RequestSource& source_;
  Clock& clock_;
  StatsRecorder& recorder_;

  // Written by Begin() before any call starts; read-only afterwards.
  absl::Time start_;
  absl::Time measure_start_;
  absl::Time end_;

  std::atomic<int64_t> outstanding_{0};
  std::atomic<uint64_t> next_seq_{0};
  std::atomic<int64_t> measured_started_{0};
  std::atomic<int64_t> last_completion_ns_{-1};
  absl::Duration max_send_lag_;  // main thread only
  absl::Notification done_;
};

absl::StatusOr<std::vector<std::string>> ReadLines(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view id = absl::StripAsciiWhitespace(line);
    if (!id.empty()) lines.emplace_back(id);
  }
  if (lines.empty()) return absl::InvalidArgumentError(absl::StrCat(path, " has no ids"));
  return lines;
}

absl::StatusOr<RequestSource> LoadSource(Method method) {
  RequestSource source;
  const std::string data_dir = absl::GetFlag(FLAGS_data);
  const bool need_users = method != Method::kSearch;
  const bool need_items = method == Method::kFeedback;
  const bool need_queries = method == Method::kSearch;
  if (need_users && !absl::GetFlag(FLAGS_users).empty()) {
    ASSIGN_OR_RETURN(source.users, ReadLines(absl::GetFlag(FLAGS_users)));
  }
  if (need_items && !absl::GetFlag(FLAGS_items).empty()) {
    ASSIGN_OR_RETURN(source.items, ReadLines(absl::GetFlag(FLAGS_items)));
  }
  if (need_queries && !absl::GetFlag(FLAGS_queries).empty()) {
    ASSIGN_OR_RETURN(source.queries, ReadLines(absl::GetFlag(FLAGS_queries)));
  }
  const bool missing = (need_users && source.users.empty()) ||
                       (need_items && source.items.empty()) ||
                       (need_queries && source.queries.empty());
  if (missing && !data_dir.empty()) {
    ASSIGN_OR_RETURN(Dataset data, LoadDataset(data_dir, LoadOptions{}));
    if (need_users && source.users.empty()) source.users = data.users.names();
    if (need_items && source.items.empty()) source.items = data.items.names();
    if (need_queries && source.queries.empty()) {
      for (const ItemInfo& info : data.item_info) {
        if (!info.title.empty()) source.queries.push_back(info.title);
      }
    }
  }
  if (need_users && source.users.empty()) {
    return absl::InvalidArgumentError("no user ids: give --users FILE or --data DIR");
  }
  if (need_items && source.items.empty()) {
    return absl::InvalidArgumentError("no item ids: give --items FILE or --data DIR");
  }
  if (need_queries && source.queries.empty()) {
    return absl::InvalidArgumentError("no queries: give --queries FILE or --data DIR");
  }
  std::mt19937_64 rng(absl::GetFlag(FLAGS_seed));
  std::shuffle(source.users.begin(), source.users.end(), rng);
  std::shuffle(source.items.begin(), source.items.end(), rng);
  std::shuffle(source.queries.begin(), source.queries.end(), rng);
  return source;
}

int Main() {
  const std::string method_name = absl::GetFlag(FLAGS_method);
  RunOptions options;
  std::string rpc;
  if (method_name == "recommend") {
    options.method = Method::kRecommend;
    rpc = "Recommend";
  } else if (method_name == "feedback") {
    options.method = Method::kFeedback;
    rpc = "Feedback";
  } else if (method_name == "search") {
    options.method = Method::kSearch;
    rpc = "Search";
  } else {
    LOG(ERROR) << "--method must be recommend, feedback or search, not " << method_name;
    return 2;
  }
  options.k = absl::GetFlag(FLAGS_k);
  options.event = absl::GetFlag(FLAGS_event);
  options.deadline = absl::GetFlag(FLAGS_deadline);
  options.concurrency = absl::GetFlag(FLAGS_concurrency);
  options.rate = absl::GetFlag(FLAGS_rate);
  options.max_outstanding = absl::GetFlag(FLAGS_max_outstanding);
  options.duration = absl::GetFlag(FLAGS_duration);
  options.count = absl::GetFlag(FLAGS_count);
  options.warmup = absl::GetFlag(FLAGS_warmup);
  const int connections = absl::GetFlag(FLAGS_connections);
  const std::string target = absl::GetFlag(FLAGS_target);
  if (options.rate < 0 || (options.rate == 0 && options.concurrency < 1) || connections < 1 ||
      options.max_outstanding < 1 || options.count < 0 ||
      options.deadline <= absl::ZeroDuration() || options.warmup < absl::ZeroDuration() ||
      options.duration < absl::ZeroDuration()) {
    LOG(ERROR) << "need --rate >= 0, --concurrency >= 1, --connections >= 1, "
                  "--max_outstanding >= 1, --count >= 0, --deadline > 0, "
                  "--warmup >= 0, --duration >= 0";
    return 2;
  }
  if (options.duration == absl::ZeroDuration() && options.count == 0) {
    LOG(ERROR) << "--duration 0 needs --count > 0 (else the run never ends)";
    return 2;
  }

  absl::StatusOr<RequestSource> source = LoadSource(options.method);
  if (!source.ok()) {
    LOG(ERROR) << source.status();
    return 2;
  }

  // One channel per connection. Channels with equal arguments share subchannels
  // (and so one TCP connection); a distinct argument per channel plus a local
  // subchannel pool gives each its own.
  std::vector<std::unique_ptr<v1::Recommender::Stub>> stubs;
  const auto connect_deadline = std::chrono::system_clock::now() +
                                absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_connect_timeout));
  recsys::TlsClientFiles tls;
  tls.ca_file = absl::GetFlag(FLAGS_tls_ca);
  tls.cert_file = absl::GetFlag(FLAGS_tls_cert);
  tls.key_file = absl::GetFlag(FLAGS_tls_key);
  tls.server_name = absl::GetFlag(FLAGS_tls_server_name);
  std::string token;
  if (const std::string path = absl::GetFlag(FLAGS_token_file); !path.empty()) {
    absl::StatusOr<std::string> read = recsys::ReadSecretFile(path);
    if (!read.ok()) {
      LOG(ERROR) << "--token_file: " << read.status();
      return 2;
    }
    token = *std::move(read);
  }
  for (int i = 0; i < connections; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("recsys.load.channel_index", i);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds =
        recsys::MakeChannelCredentials(tls, token, &args);
    if (!creds.ok()) {
      LOG(ERROR) << "TLS flags: " << creds.status();
      return 2;
    }
    std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(target, *creds, args);
    if (!channel->WaitForConnected(connect_deadline)) {
      LOG(ERROR) << "cannot connect to " << target << " (channel " << i << ") within "
                 << absl::GetFlag(FLAGS_connect_timeout);
      return 1;
    }
    stubs.push_back(v1::Recommender::NewStub(channel));
  }

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);

  const bool open_loop = options.rate > 0;
  std::cerr << "recsys-load: " << rpc << " on " << target << ", "
            << (open_loop ? absl::StrCat("open loop at ", options.rate, " calls/s")
                          : absl::StrCat("closed loop, concurrency ", options.concurrency))
            << ", " << connections << " connection(s), warm-up " << options.warmup << ", duration "
            << options.duration
            << (options.count > 0 ? absl::StrCat(", count ", options.count) : "") << "\n";

  SteadyClock clock;
  StatsRecorder recorder;
  Runner runner(options, std::move(stubs), *source, clock, recorder);
  const absl::Time date = absl::Now();
  if (open_loop) {
    runner.RunOpenLoop();
  } else {
    runner.RunClosedLoop();
  }

  const Report report = BuildReport(recorder.Merged(), runner.measured_time());
  std::cout << FormatText(report);
  if (open_loop) {
    std::cout << "\nSend lag (worst delay of a send behind its schedule, included in "
                 "latencies): "
              << runner.max_send_lag() << "\n";
  }

  const std::string json_path = absl::GetFlag(FLAGS_json);
  if (!json_path.empty()) {
    const Options json_options = {
        {"host", target},
        {"call", absl::StrCat("recsys.v1.Recommender.", rpc)},
        {"insecure", !tls.enabled()},
        {"total", options.count},
        {"concurrency", static_cast<int64_t>(open_loop ? 0 : options.concurrency)},
        {"qps", options.rate},
        {"connections", static_cast<int64_t>(connections)},
        {"duration", absl::ToInt64Nanoseconds(options.duration)},
        {"timeout", absl::ToInt64Nanoseconds(options.deadline)},
        {"warmup", absl::ToInt64Nanoseconds(options.warmup)},
        {"maxOutstanding", options.max_outstanding},
        {"k", static_cast<int64_t>(options.k)},
        {"users", absl::GetFlag(FLAGS_users)},
        {"items", absl::GetFlag(FLAGS_items)},
        {"queries", absl::GetFlag(FLAGS_queries)},
        {"data", absl::GetFlag(FLAGS_data)},
        {"seed", static_cast<int64_t>(absl::GetFlag(FLAGS_seed))},
        {"CPUs", static_cast<int64_t>(std::thread::hardware_concurrency())},
    };
    absl::Status written = WriteFile(json_path, FormatJson(report, date, json_options));
    if (!written.ok()) {
      LOG(ERROR) << written;
      return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace recsys::load

int main(int argc, char** argv) {
  recsys::ParseFlags(
      argc, argv, "recsys-load",
      "Load generator for recsys.v1.Recommender: closed loop (--concurrency) or open "
      "loop (--rate), ghz-compatible --json report.\n"
      "  recsys-load --target localhost:50051 --data data/ml-latest-small "
      "--concurrency 8 --duration 30s");
  return recsys::load::Main();
}
