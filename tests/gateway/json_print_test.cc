// The HTTP face's JSON printer prints what protobuf's canonical mapping prints
// (the same values field by field, read back by protobuf's own parser), and
// refuses the types it does not cover.
#include "gateway/http/json_print.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <cmath>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "recsys/v1/recommender.pb.h"

namespace recsys::gateway {
namespace {

template <typename M>
void ExpectSameAsProtobuf(const M& message) {
  std::string ours;
  ASSERT_TRUE(AppendJson(message, &ours));
  M back;
  const auto status = google::protobuf::util::JsonStringToMessage(ours, &back);
  ASSERT_TRUE(status.ok()) << status.ToString() << "\n" << ours;
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(message, back)) << ours;
  // Every field protobuf prints (defaults included) is there, as the same JSON type.
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string theirs;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(message, &theirs, options).ok());
  google::protobuf::Struct a, b;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(ours, &a).ok());
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(theirs, &b).ok());
  EXPECT_EQ(a.fields().size(), b.fields().size()) << ours << "\n" << theirs;
  for (const auto& [name, value] : b.fields()) {
    ASSERT_TRUE(a.fields().count(name)) << name << " missing in " << ours;
    EXPECT_EQ(a.fields().at(name).kind_case(), value.kind_case()) << name;
  }
}

TEST(JsonPrintTest, RecommendAnswerMatchesProtobuf) {
  v1::RecommendResponse r;
  for (int i = 0; i < 3; ++i) {
    v1::ScoredItem* item = r.add_items();
    item->set_item_id(std::to_string(100 + i));
    item->set_score(0.00463416567f / static_cast<float>(i + 1));
    item->set_title("L\xc3\xa9on \"The Professional\" \\ (1994)\n");
    item->add_categories("Action");
  }
  r.set_path(v1::PATH_FULL);
  r.set_model_version("v1");
  r.add_timings()->set_micros(int64_t{1} << 40);
  r.add_notes("unknown user: x");
  ExpectSameAsProtobuf(r);
  ExpectSameAsProtobuf(v1::RecommendResponse());  // every default printed
}

TEST(JsonPrintTest, SpecialValuesAndNestedMessages) {
  v1::RecommendRequest q;
  q.set_user_id("u");
  q.set_as_of_s(-5);
  v1::HistoryEvent* e = q.add_extra_history();
  e->set_item_id("m1");
  e->set_weight(std::numeric_limits<float>::infinity());
  q.add_extra_history()->set_weight(1e-30f);
  ExpectSameAsProtobuf(q);
  v1::FeedbackResponse ack;
  ack.set_sequence(std::numeric_limits<uint64_t>::max());
  ExpectSameAsProtobuf(ack);
  v1::GetHistoryResponse h;
  h.add_events()->set_weight(std::nanf(""));
  std::string out;
  ASSERT_TRUE(AppendJson(h, &out));
  EXPECT_NE(out.find("\"weight\":\"NaN\""), std::string::npos) << out;
}

TEST(JsonPrintTest, InvalidUtf8BecomesReplacementCharacter) {
  std::string out;
  AppendJsonString("a\xff" "b\x01", &out);
  EXPECT_EQ(out, "\"a\\ufffdb\\u0001\"");
}

TEST(JsonPrintTest, MapsAreLeftToProtobuf) {
  v1::GetModelInfoResponse info;  // its manifest has a map field
  std::string out = "x";
  EXPECT_FALSE(AppendJson(info, &out));
  EXPECT_EQ(out, "x");
}

}  // namespace
}  // namespace recsys::gateway
