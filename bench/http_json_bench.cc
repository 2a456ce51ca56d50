// What the HTTP/JSON face adds per Recommend on top of the gRPC work: printing
// the answer as JSON (protobuf's canonical mapping, as gateway/http/http_api.cc
// does), parsing a JSON body, and the binary round trip the in-process gRPC
// call makes (serialize + parse of request and answer). A 10-item answer with
// MovieLens-like titles and categories.
//   build/bin/recsys_bench_http_json
#include <google/protobuf/util/json_util.h>

#include <string>

#include <benchmark/benchmark.h>

#include "absl/strings/str_cat.h"
#include "gateway/http/json_print.h"
#include "recsys/v1/recommender.pb.h"

namespace {

recsys::v1::RecommendResponse Answer(int k) {
  recsys::v1::RecommendResponse r;
  for (int i = 0; i < k; ++i) {
    auto* item = r.add_items();
    item->set_item_id(absl::StrCat(1000 + i * 37));
    item->set_score(0.01f * static_cast<float>(k - i));
    item->set_title(absl::StrCat("Some Movie Title, Part ", i, " (1999)"));
    item->add_categories("Action");
    item->add_categories("Adventure");
    item->add_categories("Sci-Fi");
  }
  r.set_path(recsys::v1::PATH_FULL);
  r.set_model_version("20261207T141050Z-b2415e");
  return r;
}

void BM_PrintAnswerJson(benchmark::State& state) {
  const auto answer = Answer(static_cast<int>(state.range(0)));
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  for (auto _ : state) {
    std::string json;
    benchmark::DoNotOptimize(google::protobuf::util::MessageToJsonString(answer, &json, options));
    benchmark::DoNotOptimize(json);
  }
}
BENCHMARK(BM_PrintAnswerJson)->Arg(10)->Arg(100);

// The gateway's own printer (gateway/http/json_print.h), as the HTTP face uses it.
void BM_AppendJson(benchmark::State& state) {
  const auto answer = Answer(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    std::string json;
    benchmark::DoNotOptimize(recsys::gateway::AppendJson(answer, &json));
    benchmark::DoNotOptimize(json);
  }
}
BENCHMARK(BM_AppendJson)->Arg(10)->Arg(100);

void BM_ParseFeedbackJson(benchmark::State& state) {
  const std::string body = R"({"userId": "414", "itemId": "2571", "event": "like"})";
  for (auto _ : state) {
    recsys::v1::FeedbackRequest request;
    benchmark::DoNotOptimize(google::protobuf::util::JsonStringToMessage(body, &request));
  }
}
BENCHMARK(BM_ParseFeedbackJson);

void BM_BinaryRoundTrip(benchmark::State& state) {
  const auto answer = Answer(static_cast<int>(state.range(0)));
  recsys::v1::RecommendRequest request;
  request.set_user_id("414");
  request.set_k(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    recsys::v1::RecommendRequest q;
    q.ParseFromString(request.SerializeAsString());
    recsys::v1::RecommendResponse a;
    a.ParseFromString(answer.SerializeAsString());
    benchmark::DoNotOptimize(a);
  }
}
BENCHMARK(BM_BinaryRoundTrip)->Arg(10)->Arg(100);

}  // namespace

BENCHMARK_MAIN();
