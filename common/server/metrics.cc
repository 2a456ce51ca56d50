#include "common/server/metrics.h"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <utility>
#include <vector>

#include <prometheus/text_serializer.h>

#include "absl/strings/str_cat.h"
#include "common/build_info.h"
#include "common/server/grpc_status.h"

namespace recsys {
namespace {

constexpr char kGrpcType[] = "unary";
// Prometheus text exposition format 0.0.4.
constexpr char kExpositionContentType[] = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace

ServerMetrics::ServerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      scrapes_(prometheus::BuildCounter()
                   .Name("exposer_scrapes_total")
                   .Help("Number of times metrics were scraped")
                   .Register(scrape_registry_)
                   .Add({})),
      transferred_bytes_(prometheus::BuildCounter()
                             .Name("exposer_transferred_bytes_total")
                             .Help("Transferred bytes to metrics services")
                             .Register(scrape_registry_)
                             .Add({})),
      scrape_microseconds_(
          prometheus::BuildSummary()
              .Name("exposer_request_latencies")
              .Help("Latencies of serving scrape requests, in microseconds")
              .Register(scrape_registry_)
              .Add({}, prometheus::Summary::Quantiles{{0.5, 0.05}, {0.9, 0.01}, {0.99, 0.001}})),
      started_(prometheus::BuildCounter()
                   .Name("grpc_server_started_total")
                   .Help("Total number of RPCs started on the server.")
                   .Register(*registry_)),
      handled_(prometheus::BuildCounter()
                   .Name("grpc_server_handled_total")
                   .Help("Total number of RPCs completed on the server, regardless of "
                         "success or failure.")
                   .Register(*registry_)),
      handling_seconds_(prometheus::BuildHistogram()
                            .Name("grpc_server_handling_seconds")
                            .Help("Histogram of response latency (seconds) of gRPC that "
                                  "had been application-level handled by the server.")
                            .Register(*registry_)),
      bundle_info_(prometheus::BuildGauge()
                       .Name("recsys_bundle_info")
                       .Help("1 for the model bundle version being served.")
                       .Register(*registry_)),
      bundle_created_(prometheus::BuildGauge()
                          .Name("recsys_bundle_created_timestamp_seconds")
                          .Help("Creation time (Unix seconds) of the served model bundle.")
                          .Register(*registry_)
                          .Add({})),
      bundle_load_seconds_(prometheus::BuildGauge()
                               .Name("recsys_bundle_load_seconds")
                               .Help("Wall time (seconds) of the last successful bundle load.")
                               .Register(*registry_)
                               .Add({})),
      bundle_loads_(prometheus::BuildCounter()
                        .Name("recsys_bundle_loads_total")
                        .Help("Model bundle load attempts by result.")
                        .Register(*registry_)),
      bundle_loads_ok_(bundle_loads_.Add({{"result", "ok"}})),
      bundle_loads_error_(bundle_loads_.Add({{"result", "error"}})) {
  const BuildInfo& build = GetBuildInfo();
  prometheus::BuildGauge()
      .Name("recsys_build_info")
      .Help("Always 1; the labels say which build this process runs.")
      .Register(*registry_)
      .Add({{"version", build.version}, {"commit", build.commit}, {"build_type", build.build_type}})
      .Set(1);
}

ServerMetrics::~ServerMetrics() {
  http_server_.reset();  // no scrape runs past this point
}

absl::StatusOr<std::unique_ptr<ServerMetrics>> ServerMetrics::Create(
    const std::string& bind_address, HttpServerOptions http) {
  std::unique_ptr<ServerMetrics> metrics(new ServerMetrics());
  http.address = bind_address;
  ServerMetrics* self = metrics.get();
  HttpServer::Resource scrape{"/metrics", kExpositionContentType,
                              [self] { return self->RenderScrape(); }};
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(std::move(http), {scrape});
  if (!server.ok()) {
    return absl::Status(server.status().code(),
                        absl::StrCat("cannot serve /metrics: ", server.status().message()));
  }
  metrics->http_server_ = *std::move(server);
  metrics->port_ = metrics->http_server_->port();
  return metrics;
}

std::unique_ptr<ServerMetrics> ServerMetrics::CreateWithoutExposer() {
  return std::unique_ptr<ServerMetrics>(new ServerMetrics());
}

const RpcMethodMetrics& ServerMetrics::Method(absl::string_view service,
                                              absl::string_view method) {
  std::string key = absl::StrCat(service, "/", method);
  {
    absl::ReaderMutexLock lock(&methods_mu_);
    auto it = methods_.find(key);
    if (it != methods_.end()) return *it->second;
  }
  absl::MutexLock lock(&methods_mu_);
  auto [it, inserted] = methods_.try_emplace(key);
  if (!inserted) return *it->second;  // another thread won the race
  auto m = std::make_unique<RpcMethodMetrics>();
  prometheus::Labels labels = {{"grpc_type", kGrpcType},
                               {"grpc_service", std::string(service)},
                               {"grpc_method", std::string(method)}};
  m->started = &started_.Add(labels);
  m->handling_seconds = &handling_seconds_.Add(labels, kHandlingSecondsBuckets);
  for (int code = 0; code < kNumGrpcCodes; ++code) {
    prometheus::Labels with_code = labels;
    with_code["grpc_code"] = GrpcCodeName(static_cast<grpc::StatusCode>(code));
    m->handled[code] = &handled_.Add(with_code);
  }
  it->second = std::move(m);
  return *it->second;
}

void ServerMetrics::RecordBundleLoad(bool ok, absl::Duration load_time) {
  if (ok) {
    bundle_loads_ok_.Increment();
    bundle_load_seconds_.Set(absl::ToDoubleSeconds(load_time));
  } else {
    bundle_loads_error_.Increment();
  }
}

void ServerMetrics::SetBundle(const std::string& name, const std::string& version,
                              absl::Time created_at) {
  absl::MutexLock lock(&bundle_mu_);
  if (bundle_info_current_ != nullptr) bundle_info_.Remove(bundle_info_current_);
  bundle_info_current_ = &bundle_info_.Add({{"name", name}, {"version", version}});
  bundle_info_current_->Set(1);
  if (created_at != absl::InfinitePast()) {
    bundle_created_.Set(absl::ToDoubleSeconds(created_at - absl::UnixEpoch()));
  }
}

std::string ServerMetrics::RenderScrape() {
  const auto start = std::chrono::steady_clock::now();
  std::vector<prometheus::MetricFamily> families = scrape_registry_.Collect();
  std::vector<prometheus::MetricFamily> own = CollectOwn();
  families.insert(families.end(), std::make_move_iterator(own.begin()),
                  std::make_move_iterator(own.end()));
  std::string text = prometheus::TextSerializer().Serialize(families);
  scrapes_.Increment();
  transferred_bytes_.Increment(static_cast<double>(text.size()));
  scrape_microseconds_.Observe(
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
  return text;
}

std::vector<prometheus::MetricFamily> ServerMetrics::CollectOwn() const {
  std::vector<prometheus::MetricFamily> families = process_.Collect();
  std::vector<prometheus::MetricFamily> own = registry_->Collect();
  families.insert(families.end(), std::make_move_iterator(own.begin()),
                  std::make_move_iterator(own.end()));
  std::vector<std::shared_ptr<prometheus::Collectable>> live;
  {
    absl::MutexLock lock(&collectables_mu_);
    for (const auto& weak : collectables_) {
      if (auto c = weak.lock()) live.push_back(std::move(c));
    }
  }
  for (const auto& c : live) {
    std::vector<prometheus::MetricFamily> more = c->Collect();
    families.insert(families.end(), std::make_move_iterator(more.begin()),
                    std::make_move_iterator(more.end()));
  }
  return families;
}

void ServerMetrics::AddCollectable(std::weak_ptr<prometheus::Collectable> collectable) {
  absl::MutexLock lock(&collectables_mu_);
  // Expired entries go first, so re-registration cycles do not grow the list.
  collectables_.erase(std::remove_if(collectables_.begin(), collectables_.end(),
                                     [](const auto& w) { return w.expired(); }),
                      collectables_.end());
  collectables_.push_back(std::move(collectable));
}

std::string ServerMetrics::SerializeText() const {
  return prometheus::TextSerializer().Serialize(CollectOwn());
}

RpcRecorder::RpcRecorder(ServerMetrics* metrics, absl::string_view service,
                         absl::string_view method)
    : start_(std::chrono::steady_clock::now()) {
  if (metrics == nullptr) return;
  method_ = &metrics->Method(service, method);
  method_->started->Increment();
}

RpcRecorder::~RpcRecorder() { Finish(grpc::StatusCode::UNKNOWN); }

void RpcRecorder::Finish(grpc::StatusCode code) {
  if (finished_) return;
  finished_ = true;
  if (method_ == nullptr) return;
  int index = static_cast<int>(code);
  if (index < 0 || index >= kNumGrpcCodes) index = static_cast<int>(grpc::StatusCode::UNKNOWN);
  method_->handled[index]->Increment();
  method_->handling_seconds->Observe(absl::ToDoubleSeconds(Elapsed()));
}

absl::Duration RpcRecorder::Elapsed() const {
  return absl::FromChrono(std::chrono::steady_clock::now() - start_);
}

}  // namespace recsys
