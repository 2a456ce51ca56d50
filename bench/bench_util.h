// What the benchmarks over a served bundle (recsys_bench_rank,
// recsys_bench_retrieve) share: where the bundle comes from, starting the
// service on a loopback port, timing one call, the latency counters and main().
//
// The bundle: RECSYS_BENCH_REGISTRY=<registry root> (+ RECSYS_BENCH_MODEL, default
// "movielens") serves that registry's production version; otherwise the bundle
// is trained (no tuning, ~15 s) into a temp registry. The data set for the
// users' histories: RECSYS_BENCH_DATA (default data/ml-latest-small).
#pragma once

#include <benchmark/benchmark.h>
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/status.h"

namespace recsys {
class ServerMetrics;
}  // namespace recsys

namespace recsys::bench {

// The value of environment variable `name`, or `fallback` if it is unset or empty.
std::string EnvOr(const char* name, const std::string& fallback);

// The bundle a benchmark serves and the data set its requests come from.
struct BenchBundle {
  std::string data_dir;       // RECSYS_BENCH_DATA
  std::string registry_root;  // RECSYS_BENCH_REGISTRY, or the temp registry trained here
  std::string model_name;     // RECSYS_BENCH_MODEL
};

// Reads the RECSYS_BENCH_* variables. Without RECSYS_BENCH_REGISTRY, trains a
// bundle on data_dir with tuning off (~15 s) into
// <temp dir>/<temp_registry_name> (wiped first) and promotes it to production.
absl::StatusOr<BenchBundle> PrepareBundle(const std::string& temp_registry_name);

// Starts `Server` (RankingServer, RetrievalServer) with `options` on a free
// loopback port, serving `bundle`'s production version: no polling thread, the
// bundle is loaded once here, so holder().Current() is set on return.
// `metrics` (not owned, may be null) must outlive the server.
template <typename Server, typename Options>
absl::StatusOr<std::unique_ptr<Server>> StartLoopbackServer(Options options,
                                                            const BenchBundle& bundle,
                                                            ServerMetrics* metrics) {
  options.server.address = "127.0.0.1:0";
  options.bundle.registry_root = bundle.registry_root;
  options.bundle.model_name = bundle.model_name;
  options.start_polling = false;
  ASSIGN_OR_RETURN(std::unique_ptr<Server> server, Server::Start(std::move(options), metrics));
  RETURN_IF_ERROR(server->holder().PollOnce());
  return server;
}

// An insecure channel to 127.0.0.1:`port`.
std::shared_ptr<grpc::Channel> LoopbackChannel(int port);

// The text SkipWithError reports for a failed call.
inline std::string ErrorText(const absl::Status& s) { return s.ToString(); }
template <typename T>
std::string ErrorText(const absl::StatusOr<T>& s) {
  return s.status().ToString();
}
inline std::string ErrorText(const grpc::Status& s) { return s.error_message(); }

// Runs `call` (returning absl::Status, absl::StatusOr<T> or grpc::Status) once
// and returns its steady-clock wall time in us. If it failed, marks the run
// failed (SkipWithError with the error's text) and returns nullopt: the caller
// leaves its benchmark loop.
template <typename Call>
std::optional<double> TimedCall(benchmark::State& state, Call&& call) {
  const auto start = std::chrono::steady_clock::now();
  const auto result = call();
  const auto end = std::chrono::steady_clock::now();
  if (!result.ok()) {
    state.SkipWithError(ErrorText(result).c_str());
    return std::nullopt;
  }
  return std::chrono::duration<double, std::micro>(end - start).count();
}

// One unary call `rpc` (e.g. &v1::Ranking::Stub::Rank) through `stub` with a
// 10 s deadline, timed as TimedCall does; the client context is set up outside
// the timed part.
template <typename Stub, typename Request, typename Response>
std::optional<double> TimedRpc(benchmark::State& state, Stub& stub,
                               grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Request&,
                                                         Response*),
                               const Request& request, Response* response) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return TimedCall(state, [&] { return (stub.*rpc)(&ctx, request, response); });
}

// Sets the counters <prefix>p50_us, <prefix>p90_us (if `p90`) and <prefix>p99_us
// from the per-call times in `micros` (sorted here); none if it is empty.
void ReportPercentiles(benchmark::State& state, std::vector<double>* micros, const char* prefix,
                       bool p90);

// The main() of a benchmark binary: benchmark flags from argv, `set_up` (an
// error is logged and exits 1), the selected benchmarks with only warnings and
// errors logged, then `tear_down`. Returns the process exit code.
int RunBenchmarks(int argc, char** argv, const std::function<absl::Status()>& set_up,
                  const std::function<void()>& tear_down);

}  // namespace recsys::bench
