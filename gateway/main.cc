// recsys-gateway: the public recsys.v1.Recommender endpoint.
//   recsys-gateway --registry registry --name movielens \
//     --retrieval dns:///localhost:50052 --ranking dns:///localhost:50053 \
//     --port 50051 --metrics_port 9091 --state_dir state/
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/bundle/catalogue_shard.h"
#include "common/cli_flags.h"
#include "common/log.h"
#include "common/server/http_server.h"
#include "common/server/metrics.h"
#include "common/server/security_flags.h"
#include "common/server/server_main_util.h"
#include "common/server/tls_credentials.h"
#include "gateway/ask_generator.h"
#include "gateway/backend_channel.h"
#include "gateway/budget.h"
#include "gateway/gateway_server.h"
#include "gateway/http/http_api.h"
#include "gateway/redis_user_store.h"
#include "gateway/requests.h"
#include "gateway/user_store.h"
#include "gateway/user_store_metrics.h"

ABSL_FLAG(std::string, registry, "registry", "Registry root directory");
ABSL_FLAG(std::string, name, "movielens", "Model name inside the registry");
ABSL_FLAG(std::string, retrieval, "dns:///localhost:50052", "Retrieval service target");
ABSL_FLAG(std::string, retrieval_shards, "",
          "Retrieval sharded by catalogue: comma-separated targets of the services started "
          "with --shard 0/N, 1/N, ... in that order (N >= 2). Recommend fans out to all and "
          "merges their pools; Search, SimilarItems and Ask go to the first. Replaces "
          "--retrieval. Empty = one unsharded retrieval at --retrieval");
ABSL_FLAG(std::string, signals_key_file, "",
          "With --retrieval_shards: the file with the key retrieval and ranking share "
          "(their --signals_key_file); the gateway re-signs the merged pool's signals with "
          "it. Without it merged signals go unsigned and a keyed ranking recomputes them");
ABSL_FLAG(std::string, ranking, "dns:///localhost:50053", "Ranking service target");
ABSL_FLAG(int, port, 50051, "gRPC port (0 picks a free one)");
ABSL_FLAG(int, metrics_port, 9091, "Prometheus /metrics port");
ABSL_FLAG(std::string, state_dir, "state",
          "Directory of the embedded user store's write-ahead log (unused with a Redis "
          "--user_store)");
ABSL_FLAG(std::string, user_store, "embedded",
          "Where user histories live: 'embedded' (memory + a write-ahead log in --state_dir; "
          "one gateway) or redis://host[:port][/db] (the bundle's training histories in "
          "memory, everything after them in Redis: several gateways share it)");
ABSL_FLAG(std::string, redis_password_file, "",
          "Redis store: file whose first line is the password sent with AUTH. Empty = none");
ABSL_FLAG(absl::Duration, redis_timeout, recsys::gateway::RedisPoolOptions{}.timeout,
          "Redis store: bound on connecting, on waiting for a pooled connection and on each "
          "read or write of a call; past it the call fails UNAVAILABLE (Feedback) or answers "
          "degraded (Recommend)");
ABSL_FLAG(int, redis_pool, recsys::gateway::RedisPoolOptions{}.size,
          "Redis store: connections (calls to Redis at once); also the threads reading "
          "histories for Recommend");
ABSL_FLAG(int, redis_max_history, 0,
          "Redis store: events kept per user, seeded and appended together, the most recent "
          "(0 = --max_history)");
ABSL_FLAG(int, redis_wait_replicas, 0,
          "Redis store: acknowledge a write only once this many Redis replicas have it (WAIT, "
          "up to half of --redis_timeout; fewer → UNAVAILABLE). 0 = the primary's answer");
ABSL_FLAG(absl::Duration, poll_interval, absl::Seconds(10),
          "How often to read the production alias (SIGHUP reads it at once)");
ABSL_FLAG(absl::Duration, startup_timeout, absl::Minutes(5),
          "How long to wait for the first bundle before giving up");
ABSL_FLAG(absl::Duration, default_deadline, absl::Milliseconds(50),
          "Budget of a Recommend call whose caller sent no deadline");
ABSL_FLAG(double, retrieval_share, 0.6, "Share of the usable budget given to retrieval");
ABSL_FLAG(absl::Duration, margin, recsys::gateway::BudgetOptions{}.margin,
          "Budget kept for the gateway's own work after ranking (fallback, assembly, the "
          "answer's way back): min(--margin, 25% of the call's deadline), so small "
          "deadlines keep time for retrieval and ranking");
ABSL_FLAG(int64_t, grpc_memory_mb, recsys::ServerOptions{}.memory_quota_bytes >> 20,
          "gRPC memory quota for transport buffers, MiB (0 = unlimited)");
ABSL_FLAG(int64_t, max_request_bytes, recsys::gateway::RequestLimits{}.max_request_bytes,
          "Largest request, bytes (Recommend: checked with the count limits before parsing)");
ABSL_FLAG(int, max_inflight, recsys::gateway::GatewayOptions{}.max_inflight,
          "Concurrent Recommend calls before RESOURCE_EXHAUSTED (size it to saturation "
          "throughput x the callers' deadline)");
ABSL_FLAG(int, max_k, 100, "Largest k a caller may ask for");
ABSL_FLAG(int, exposure_items, recsys::gateway::ExposureTrackerOptions{}.capacity,
          "Items the served-exposure table tracks at once (recsys_gateway_exposure_*; ~45 "
          "bytes each, whatever the catalogue's size; exact while fewer items were served, "
          "keep it well above 1% of the catalogue)");
ABSL_FLAG(absl::Duration, exposure_half_life, recsys::gateway::ExposureTrackerOptions{}.half_life,
          "Half-life of a served slot in the exposure figures (e.g. 15m; inf = never decays)");
ABSL_FLAG(int, max_history, recsys::gateway::RequestLimits{}.max_history,
          "Most recent history events sent downstream (stored ones, then extra_history; "
          "also the most extra_history events a request may carry). Retrieval's and "
          "ranking's --max_history must be at least this");
ABSL_FLAG(int, feedback_workers, 32,
          "Threads waiting on durable Feedback appends; appends waiting together share one fsync");
ABSL_FLAG(int, cache_mb, 128,
          "Memory for the exact answer cache of Recommend, MiB (0 disables it)");
ABSL_FLAG(absl::Duration, cache_ttl, absl::Seconds(60),
          "Longest a cached answer is served (the key already covers history, options "
          "and model version)");
ABSL_FLAG(bool, fsync, true, "fsync the write-ahead log before acknowledging (off: tests only)");
ABSL_FLAG(absl::Duration, drain, absl::Seconds(10), "Graceful-shutdown drain deadline");
ABSL_FLAG(std::string, wal_recovery, "refuse",
          "What start-up does with a corrupt user-store log (a torn last record, the mark of a "
          "crash mid-write, is always cut off after the segment is copied aside): 'refuse' "
          "exits naming the file and offset and modifies nothing; 'skip' copies each damaged "
          "segment aside (wal-*.log.damaged-<time>), keeps every readable record and starts");
ABSL_FLAG(int64_t, max_users, recsys::gateway::EmbeddedUserStoreOptions{}.max_users,
          "Users the store holds before Feedback for a new user is refused with "
          "RESOURCE_EXHAUSTED (nothing held is ever evicted; seeded users count)");
ABSL_FLAG(int64_t, max_events, recsys::gateway::EmbeddedUserStoreOptions{}.max_events,
          "Events (seeded + logged) the store holds before Feedback that grows a history is "
          "refused with RESOURCE_EXHAUSTED; ~56 bytes of memory each");
ABSL_FLAG(absl::Duration, max_feedback_future,
          recsys::gateway::RequestLimits{}.max_feedback_future,
          "Furthest a Feedback timestamp_s may lie ahead of the server clock "
          "(INVALID_ARGUMENT beyond)");
ABSL_FLAG(std::string, backend_tls_ca, "",
          "PEM CA the retrieval and ranking certificates must chain to: the gateway reaches "
          "them over TLS. Empty = plaintext");
ABSL_FLAG(std::string, backend_tls_cert, "",
          "PEM client certificate the gateway presents to retrieval and ranking (mTLS; with "
          "--backend_tls_key)");
ABSL_FLAG(std::string, backend_tls_key, "", "PEM private key of --backend_tls_cert");
ABSL_FLAG(std::string, backend_tls_server_name, "",
          "Name checked against the backends' certificates instead of the host in "
          "--retrieval / --ranking (e.g. when they are reached by IP). Empty = that host");
ABSL_FLAG(std::string, ask_generator_url, "",
          "Ask: external answer generator, http://host:port/path (plain HTTP): POSTed "
          "{\"question\", \"passages\": [{\"item_id\", \"title\", \"text\"}]}, answers "
          "{\"answer\"}; any failure falls back to the extractive answer with a note. Empty = "
          "off (extractive answers only)");
ABSL_FLAG(absl::Duration, ask_generator_timeout,
          recsys::gateway::GatewayOptions{}.ask_generator_timeout,
          "Ask: longest wait for the generator (queue and call), also bounded by the caller's "
          "deadline");
ABSL_FLAG(int, ask_generator_workers, recsys::gateway::GatewayOptions{}.ask_generator_workers,
          "Ask: generator calls at once (each blocks a thread for up to "
          "--ask_generator_timeout); more wait in a queue of 4x this, beyond it "
          "RESOURCE_EXHAUSTED");
ABSL_FLAG(int, http_port, 0,
          "HTTP/JSON API, web page and /healthz /readyz on this port (0 = off). Plaintext: "
          "with --tls_cert set it needs --http_allow_plaintext (terminate TLS in front of it)");
ABSL_FLAG(bool, http_allow_plaintext, false,
          "Serve --http_port in plaintext even though the gRPC port uses TLS");
ABSL_FLAG(int, http_threads, 16,
          "HTTP connection threads (each serves one connection at a time; keep-alive "
          "connections yield when others wait)");
ABSL_FLAG(int64_t, http_max_body_bytes, 1 << 20, "Largest HTTP request body, bytes");
ABSL_FLAG(std::string, backend_token_file, "",
          "File whose first line is the token sent to retrieval and ranking (when they run "
          "with --auth_tokens). Empty = none");

ABSL_DECLARE_FLAG(std::string, tls_cert);

int main(int argc, char** argv) {
  recsys::BlockTerminationSignals();  // before any thread exists
  recsys::ConfigureServingProcess();
  recsys::ParseFlags(argc, argv, "recsys-gateway", "the public recsys.v1.Recommender API");
  recsys::ConfigureLoggingFromFlags();

  namespace gateway = recsys::gateway;
  gateway::GatewayServerOptions o;
  o.bundle.registry_root = absl::GetFlag(FLAGS_registry);
  o.bundle.model_name = absl::GetFlag(FLAGS_name);
  o.bundle.poll_interval = absl::GetFlag(FLAGS_poll_interval);
  o.bundle.keep_previous = recsys::KeepPreviousBundleFlag();
  o.service.budget.default_deadline = absl::GetFlag(FLAGS_default_deadline);
  o.service.budget.retrieval_share = absl::GetFlag(FLAGS_retrieval_share);
  o.service.budget.margin = absl::GetFlag(FLAGS_margin);
  o.service.max_inflight = absl::GetFlag(FLAGS_max_inflight);
  o.service.exposure.capacity = absl::GetFlag(FLAGS_exposure_items);
  o.service.exposure.half_life = absl::GetFlag(FLAGS_exposure_half_life);
  o.service.limits.max_k = absl::GetFlag(FLAGS_max_k);
  o.service.limits.max_history = absl::GetFlag(FLAGS_max_history);
  o.service.limits.max_request_bytes = absl::GetFlag(FLAGS_max_request_bytes);
  o.service.limits.max_feedback_future = absl::GetFlag(FLAGS_max_feedback_future);
  o.service.feedback_workers = absl::GetFlag(FLAGS_feedback_workers);
  o.service.cache.max_bytes = static_cast<size_t>(std::max(0, absl::GetFlag(FLAGS_cache_mb))) << 20;
  o.service.cache.ttl = absl::GetFlag(FLAGS_cache_ttl);
  o.service.ask_generator_timeout = absl::GetFlag(FLAGS_ask_generator_timeout);
  o.service.ask_generator_workers = absl::GetFlag(FLAGS_ask_generator_workers);
  o.service.ask_generator_queue = 4 * o.service.ask_generator_workers;
  const std::string ask_generator_url = absl::GetFlag(FLAGS_ask_generator_url);
  gateway::EmbeddedUserStoreOptions store_options;
  store_options.state_dir = absl::GetFlag(FLAGS_state_dir);
  store_options.wal.fsync = absl::GetFlag(FLAGS_fsync);
  store_options.max_users = absl::GetFlag(FLAGS_max_users);
  store_options.max_events = absl::GetFlag(FLAGS_max_events);
  const std::string wal_recovery = absl::GetFlag(FLAGS_wal_recovery);
  store_options.wal.recovery = wal_recovery == "skip" ? gateway::WalRecovery::kSkip
                                                      : gateway::WalRecovery::kRefuse;
  const std::string user_store = absl::GetFlag(FLAGS_user_store);
  gateway::RedisUserStoreOptions redis_options;
  redis_options.pool.timeout = absl::GetFlag(FLAGS_redis_timeout);
  redis_options.pool.size = absl::GetFlag(FLAGS_redis_pool);
  redis_options.wait_replicas = absl::GetFlag(FLAGS_redis_wait_replicas);
  const int redis_max_history = absl::GetFlag(FLAGS_redis_max_history);
  redis_options.max_events_per_user = static_cast<size_t>(
      redis_max_history > 0 ? redis_max_history : std::max(1, o.service.limits.max_history));
  o.service.store_read_workers = redis_options.pool.size;
  const int port = absl::GetFlag(FLAGS_port);
  const int metrics_port = absl::GetFlag(FLAGS_metrics_port);
  const absl::Duration drain = absl::GetFlag(FLAGS_drain);
  const absl::Duration startup_timeout = absl::GetFlag(FLAGS_startup_timeout);
  std::string bad_flag = recsys::CommonServiceFlagError(o.bundle.model_name, port, metrics_port,
                                                        o.bundle.poll_interval, drain);
  if (!bad_flag.empty()) {
    // reported below
  } else if (startup_timeout <= absl::ZeroDuration()) {
    bad_flag = "--startup_timeout must be positive";
  } else if (o.service.budget.default_deadline <= absl::ZeroDuration()) {
    bad_flag = "--default_deadline must be positive";
  } else if (o.service.max_inflight < 1 || o.service.feedback_workers < 1) {
    bad_flag = "--max_inflight and --feedback_workers must be >= 1";
  } else if (o.service.exposure.capacity < 1 || o.service.exposure.capacity > (1 << 24) ||
             o.service.exposure.half_life <= absl::ZeroDuration()) {
    bad_flag = "--exposure_items must be in 1..2^24 and --exposure_half_life positive";
  } else if (o.service.limits.max_k < 1 || o.service.limits.max_history < 0) {
    bad_flag = "--max_k must be >= 1 and --max_history >= 0";
  } else if (o.service.limits.max_request_bytes < 1024 ||
             o.service.limits.max_request_bytes > (1 << 30)) {
    bad_flag = "--max_request_bytes must be in 1024..2^30";
  } else if (wal_recovery != "refuse" && wal_recovery != "skip") {
    bad_flag = "--wal_recovery must be 'refuse' or 'skip'";
  } else if (store_options.max_users < 1 || store_options.max_events < 1) {
    bad_flag = "--max_users and --max_events must be >= 1";
  } else if (o.service.limits.max_feedback_future < absl::ZeroDuration()) {
    bad_flag = "--max_feedback_future must be >= 0";
  } else if (o.service.ask_generator_timeout <= absl::ZeroDuration()) {
    bad_flag = "--ask_generator_timeout must be positive";
  } else if (o.service.ask_generator_workers < 1 || o.service.ask_generator_workers > 1024) {
    bad_flag = "--ask_generator_workers must be in 1..1024";
  } else if (const int http_port = absl::GetFlag(FLAGS_http_port);
             http_port < 0 || http_port > 65535 || (http_port != 0 && (http_port == port ||
                                                                       http_port == metrics_port))) {
    bad_flag = "--http_port must be in 0..65535 and differ from --port and --metrics_port";
  } else if (absl::GetFlag(FLAGS_http_threads) < 1 || absl::GetFlag(FLAGS_http_threads) > 64) {
    bad_flag = "--http_threads must be in 1..64";
  } else if (absl::GetFlag(FLAGS_http_max_body_bytes) < 1024 ||
             absl::GetFlag(FLAGS_http_max_body_bytes) > (1 << 30)) {
    bad_flag = "--http_max_body_bytes must be in 1024..2^30";
  } else if (absl::GetFlag(FLAGS_http_port) != 0 && !absl::GetFlag(FLAGS_tls_cert).empty() &&
             !absl::GetFlag(FLAGS_http_allow_plaintext)) {
    bad_flag =
        "--http_port serves plaintext HTTP while the gRPC port uses TLS: terminate TLS in front "
        "of it (an ingress) and pass --http_allow_plaintext, or leave --http_port at 0";
  }
  if (bad_flag.empty() && user_store != "embedded") {
    absl::StatusOr<gateway::RedisEndpoint> endpoint = gateway::ParseRedisUrl(user_store);
    if (!endpoint.ok()) {
      bad_flag = absl::StrCat("--user_store must be 'embedded' or redis://host[:port][/db]: ",
                              endpoint.status().message());
    } else if (redis_options.pool.timeout <= absl::ZeroDuration() ||
               redis_options.pool.timeout > absl::Minutes(1)) {
      bad_flag = "--redis_timeout must be in (0, 1m]";
    } else if (redis_options.pool.size < 1 || redis_options.pool.size > 1024) {
      bad_flag = "--redis_pool must be in 1..1024";
    } else if (redis_max_history < 0) {
      bad_flag = "--redis_max_history must be >= 0";
    } else if (redis_options.wait_replicas < 0 || redis_options.wait_replicas > 64) {
      bad_flag = "--redis_wait_replicas must be in 0..64";
    } else {
      redis_options.pool.endpoint = *std::move(endpoint);
    }
    if (const std::string path = absl::GetFlag(FLAGS_redis_password_file);
        bad_flag.empty() && !path.empty()) {
      auto password = recsys::ReadSecretFile(path);
      if (!password.ok()) {
        bad_flag = absl::StrCat("--redis_password_file: ", password.status().message());
      } else {
        redis_options.pool.password = *std::move(password);
      }
    }
  } else if (bad_flag.empty() && !absl::GetFlag(FLAGS_redis_password_file).empty()) {
    bad_flag = "--redis_password_file needs a Redis --user_store";
  }
  if (bad_flag.empty() && !ask_generator_url.empty()) {
    absl::StatusOr<gateway::HttpUrl> url = gateway::ParseHttpUrl(ask_generator_url);
    if (url.ok()) {
      o.service.ask_generator = *std::move(url);
    } else {
      bad_flag = absl::StrCat("--ask_generator_url: ", url.status().message());
    }
  }
  gateway::BackendSecurity backend;
  backend.tls.ca_file = absl::GetFlag(FLAGS_backend_tls_ca);
  backend.tls.cert_file = absl::GetFlag(FLAGS_backend_tls_cert);
  backend.tls.key_file = absl::GetFlag(FLAGS_backend_tls_key);
  backend.tls.server_name = absl::GetFlag(FLAGS_backend_tls_server_name);
  if (bad_flag.empty()) bad_flag = recsys::ServerSecurityFlagError();
  if (bad_flag.empty()) {
    if (std::string bad = recsys::TlsClientFilesError(backend.tls); !bad.empty()) {
      bad_flag = absl::StrCat("--backend_tls_*: ", bad);
    }
  }
  std::unique_ptr<recsys::ServerMetrics> metrics;
  if (auto code =
          recsys::FinishStartupChecks(bad_flag, o.bundle.registry_root, metrics_port, &metrics)) {
    return *code;
  }
  // The user store outlives the server. Embedded: every acknowledged Feedback
  // is replayed now. Both: the training histories are seeded under the stored
  // events once the first bundle loads.
  auto store_metrics = std::make_unique<gateway::UserStoreMetrics>(metrics.get());
  std::unique_ptr<gateway::UserStore> store;
  const bool redis = user_store != "embedded";
  if (redis) {
    redis_options.metrics = store_metrics.get();
    auto opened = gateway::RedisUserStore::Open(redis_options);
    if (!opened.ok()) {
      LOG(ERROR) << "user store " << redis_options.pool.endpoint.ToString() << ": "
                 << opened.status();
      return 1;
    }
    store = *std::move(opened);
  } else {
    store_options.metrics = store_metrics.get();
    auto opened = gateway::EmbeddedUserStore::Open(store_options);
    if (!opened.ok()) {
      LOG(ERROR) << "user store in " << store_options.state_dir << ": " << opened.status();
      if (absl::IsDataLoss(opened.status()) &&
          store_options.wal.recovery == gateway::WalRecovery::kRefuse) {
        LOG(ERROR) << "the user-store log is CORRUPT (not a torn write); nothing was modified. "
                      "To start anyway, keeping every readable record, restart with "
                      "--wal_recovery=skip: each damaged segment is first copied aside as "
                      "wal-<seq>.log.damaged-<time> in "
                   << store_options.state_dir << " (see README, Operations)";
      }
      return 1;
    }
    store = *std::move(opened);
  }
  const gateway::UserStoreStats recovered = store->stats();
  if (recovered.corrupt_regions > 0) {
    LOG(ERROR) << "user store: log CORRUPTION skipped (--wal_recovery=skip): "
               << recovered.corrupt_regions << " damaged place(s), " << recovered.skipped_bytes
               << " bytes, " << recovered.missing_seqs
               << " sequence numbers without a readable record; damaged segments copied aside "
                  "in "
               << store_options.state_dir;
  }
  std::shared_ptr<recsys::TokenAuthProcessor> auth;
  if (absl::Status s =
          recsys::ApplyServerSecurityFlags(recsys::AuthPolicy::Gateway(), metrics.get(),
                                           &o.server, &auth);
      !s.ok()) {
    LOG(ERROR) << s;
    return 1;
  }
  if (const std::string path = absl::GetFlag(FLAGS_backend_token_file); !path.empty()) {
    auto token = recsys::ReadSecretFile(path);
    if (!token.ok()) {
      LOG(ERROR) << "--backend_token_file: " << token.status();
      return 1;
    }
    backend.token = *std::move(token);
  }
  std::vector<std::string> shard_targets =
      absl::StrSplit(absl::GetFlag(FLAGS_retrieval_shards), ',', absl::SkipWhitespace());
  if (shard_targets.size() == 1 || shard_targets.size() > static_cast<size_t>(recsys::kMaxShards)) {
    LOG(ERROR) << "--retrieval_shards: " << shard_targets.size()
               << " target(s); list 2.." << recsys::kMaxShards
               << " shards in order, or leave it empty for one unsharded --retrieval";
    return 1;
  }
  for (const std::string& target : shard_targets) {
    auto channel = gateway::MakeBackendChannel(target, backend);
    if (!channel.ok()) {
      LOG(ERROR) << "--retrieval_shards " << target << ": " << channel.status();
      return 1;
    }
    o.service.retrieval_shards.push_back(*std::move(channel));
  }
  if (const std::string path = absl::GetFlag(FLAGS_signals_key_file); !path.empty()) {
    auto key = recsys::LoadSignalsKey(path, "recsys-gateway");
    if (!key.ok()) {
      LOG(ERROR) << key.status();
      return 1;
    }
    o.service.signals_key = *std::move(key);
  }
  auto retrieval = gateway::MakeBackendChannel(
      shard_targets.empty() ? absl::GetFlag(FLAGS_retrieval) : shard_targets[0], backend);
  auto ranking = gateway::MakeBackendChannel(absl::GetFlag(FLAGS_ranking), backend);
  if (!retrieval.ok() || !ranking.ok()) {
    LOG(ERROR) << "backend channels: " << (retrieval.ok() ? ranking.status() : retrieval.status());
    return 1;
  }
  if (o.service.ask_generator) {
    LOG(INFO) << "Ask generator: " << ask_generator_url << " (timeout "
              << o.service.ask_generator_timeout << ", " << o.service.ask_generator_workers
              << " workers)";
  }
  LOG(INFO) << "backends: " << (backend.tls.enabled() ? "TLS" : "plaintext")
            << (backend.tls.cert_file.empty() ? "" : " with a client certificate")
            << (backend.token.empty() ? "" : ", with a token");
  if (!shard_targets.empty()) {
    LOG(INFO) << "retrieval: " << shard_targets.size() << " catalogue shards ("
              << absl::GetFlag(FLAGS_retrieval_shards) << "), merged signals "
              << (o.service.signals_key.empty() ? "unsigned" : "signed");
  }
  o.retrieval = *std::move(retrieval);
  o.ranking = *std::move(ranking);
  o.server.address = absl::StrCat("0.0.0.0:", port);
  o.server.memory_quota_bytes = std::max<int64_t>(0, absl::GetFlag(FLAGS_grpc_memory_mb)) << 20;
  o.server.max_receive_message_bytes = static_cast<int>(o.service.limits.max_request_bytes);
  auto server = gateway::GatewayServer::Start(std::move(o), store.get(), metrics.get());
  if (!server.ok()) {
    LOG(ERROR) << "cannot start the gateway server: " << server.status();
    return 1;
  }
  // The HTTP face calls the service in-process; it stops after the gRPC
  // server has drained (its calls then fail UNAVAILABLE, /readyz says 503).
  std::unique_ptr<gateway::HttpApi> http_api;
  std::unique_ptr<recsys::HttpServer> http_server;
  if (const int http_port = absl::GetFlag(FLAGS_http_port); http_port != 0) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    http_api = std::make_unique<gateway::HttpApi>(
        (*server)->grpc_server()->InProcessChannel(args),
        gateway::HttpApiOptions{.auth = auth.get(), .registry = &metrics->registry()});
    recsys::HttpServerOptions http;
    http.address = absl::StrCat("0.0.0.0:", http_port);
    http.threads = absl::GetFlag(FLAGS_http_threads);
    http.max_body_bytes = absl::GetFlag(FLAGS_http_max_body_bytes);
    http.keep_alive = true;
    auto started = recsys::HttpServer::StartHandler(
        http, [api = http_api.get()](const recsys::HttpRequest& r) { return api->Handle(r); });
    if (!started.ok()) {
      LOG(ERROR) << "--http_port: " << started.status();
      return 1;
    }
    http_server = *std::move(started);
    LOG(INFO) << "recsys-gateway: HTTP/JSON API and web page on port " << http_server->port()
              << " (http://localhost:" << http_server->port() << "/)";
  }
  if (redis) {
    LOG(INFO) << "recsys-gateway: gRPC on port " << (*server)->port() << ", /metrics on port "
              << metrics->port() << ", user store in Redis at "
              << redis_options.pool.endpoint.ToString() << "; NOT_SERVING until a bundle loads";
  } else {
    LOG(INFO) << "recsys-gateway: gRPC on port " << (*server)->port() << ", /metrics on port "
              << metrics->port() << ", " << recovered.replayed_records
              << " logged events replayed (torn tail cut: " << recovered.truncated_bytes
              << " bytes; corrupt places skipped: " << recovered.corrupt_regions
              << "); NOT_SERVING until a bundle loads";
  }

  return recsys::ServeUntilTerminated(
      *std::move(server), std::move(metrics), drain, "recsys-gateway", startup_timeout,
      [&auth] { recsys::ReloadTokensOnHangup(auth.get()); },
      [&http_server, &http_api] {
        http_server.reset();
        http_api.reset();
      });
}
