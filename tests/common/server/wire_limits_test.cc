// Wire limits: counts and sizes are enforced on the bytes, before parsing.
#include "common/server/wire_limits.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/server/request_limits.h"
#include "recsys/v1/ranking.pb.h"
#include "recsys/v1/recommender.pb.h"

namespace recsys {
namespace {

WireLimits RecommendLikeLimits(const std::vector<WireFieldRule>* event_rules) {
  WireLimits l;
  l.max_bytes = 4096;
  l.fields = {
      {.number = 1, .name = "user_id", .max_count = 1, .max_length = 16},
      {.number = 3, .name = "context_categories", .max_count = 3, .max_length = 8},
      {.number = 7, .name = "extra_history", .max_count = 2, .nested = event_rules},
  };
  return l;
}

absl::Status Check(const google::protobuf::Message& m, const WireLimits& l) {
  const std::string bytes = m.SerializeAsString();
  return CheckWireLimits(bytes.data(), bytes.size(), l);
}

TEST(WireLimits, AcceptsWhatFits) {
  const std::vector<WireFieldRule> event = {{.number = 1, .name = "item_id", .max_length = 4}};
  v1::RecommendRequest r;
  r.set_user_id("u1");
  r.set_k(10);
  r.add_context_categories("Drama");
  r.add_exclude_item_ids(std::string(100, 'x'));  // no rule: skipped
  r.add_extra_history()->set_item_id("m1");
  r.mutable_extra_history(0)->set_timestamp_s(5);
  EXPECT_TRUE(Check(r, RecommendLikeLimits(&event)).ok());
  EXPECT_TRUE(Check(v1::RecommendRequest(), RecommendLikeLimits(&event)).ok());
}

TEST(WireLimits, RefusesTooManyOrTooLongEntries) {
  const std::vector<WireFieldRule> event = {{.number = 1, .name = "item_id", .max_length = 4}};
  const WireLimits limits = RecommendLikeLimits(&event);
  v1::RecommendRequest r;
  for (int i = 0; i < 4; ++i) r.add_context_categories("");
  absl::Status s = Check(r, limits);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("context_categories: more than 3"), std::string::npos) << s;

  r.Clear();
  r.add_context_categories("a very long category");
  s = Check(r, limits);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("at most 8"), std::string::npos) << s;

  r.Clear();
  r.add_extra_history()->set_item_id("too long");
  s = Check(r, limits);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("extra_history.item_id"), std::string::npos) << s;

  // A singular field repeated on the wire (protobuf would merge them).
  const std::string twice = "\x0a\x01" "a" "\x0a\x01" "b";
  s = CheckWireLimits(twice.data(), twice.size(), limits);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
}

TEST(WireLimits, RefusesOversizedMessagesAsResourceExhausted) {
  const std::vector<WireFieldRule> event;
  v1::RecommendRequest r;
  r.set_user_id(std::string(5000, 'u'));
  const absl::Status s = Check(r, RecommendLikeLimits(&event));
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
}

TEST(WireLimits, RefusesMalformedBytes) {
  const std::vector<WireFieldRule> event;
  const WireLimits limits = RecommendLikeLimits(&event);
  for (const std::string& bytes :
       {std::string("\x0a\x05" "ab", 4),         // length past the end
        std::string("\x00\x01", 2),              // field number 0
        std::string("\x0b\x0c", 2),              // groups
        std::string("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11),  // bad varint
        std::string("\x3a\x03\x0a\x05xy", 6)}) {  // nested length past its parent
    const absl::Status s = CheckWireLimits(bytes.data(), bytes.size(), limits);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  }
}

// Millions of empty entries are refused after reading at most max_count + 1
// of them: the check is what bounds memory, not the parse.
TEST(WireLimits, ManyEmptyEntriesAreRefusedEarly) {
  std::string bytes;
  for (int i = 0; i < 500000; ++i) bytes += std::string("\x1a\x00", 2);
  WireLimits limits;
  limits.max_bytes = 2 << 20;
  limits.fields = {{.number = 3, .name = "context_categories", .max_count = kMaxCategoryHints}};
  const absl::Status s = CheckWireLimits(bytes.data(), bytes.size(), limits);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
}

TEST(WireLimits, UserContextRulesLimitHistoryAndHints) {
  const UserContextWireRules user(/*max_history=*/2, /*max_id_bytes=*/8);
  WireLimits limits;
  limits.fields = {user.Field(1, "user")};
  v1::RankRequest r;
  r.mutable_user()->add_history()->set_item_id("m1");
  EXPECT_TRUE(Check(r, limits).ok());
  r.mutable_user()->add_history()->set_item_id("m2");
  r.mutable_user()->add_history()->set_item_id("m3");
  absl::Status s = Check(r, limits);
  EXPECT_NE(s.message().find("user.history: more than 2"), std::string::npos) << s;
  r.Clear();
  for (int i = 0; i <= kMaxCategoryHints; ++i) r.mutable_user()->add_categories("c");
  s = Check(r, limits);
  EXPECT_NE(s.message().find("user.categories"), std::string::npos) << s;
}

// With the descriptor, fields the schema does not know are counted at every
// depth (sub-messages without a rule included): a few from a newer client
// pass, a request padded with them is refused before it is parsed (and before
// protobuf would keep each one as an unknown field).
TEST(WireLimits, UnknownFieldsAreCountedAtEveryDepth) {
  WireLimits l = RecommendLikeLimits(nullptr);
  l.max_bytes = 1 << 20;
  l.descriptor = v1::RecommendRequest::descriptor();
  l.max_unknown_fields = 4;
  v1::RecommendRequest r;
  r.set_user_id("u1");
  r.add_extra_history()->set_item_id("m1");
  std::string bytes = r.SerializeAsString();
  // Field 99 (varint 1), unknown to RecommendRequest: tag 99 << 3 = 792.
  const std::string unknown = std::string("\x98\x06\x01", 3);
  std::string few = bytes;
  for (int i = 0; i < 4; ++i) few += unknown;
  EXPECT_TRUE(CheckWireLimits(few.data(), few.size(), l).ok());
  std::string many = few + unknown;
  const absl::Status refused = CheckWireLimits(many.data(), many.size(), l);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("more than 4 fields this server does not know"),
            std::string::npos)
      << refused.message();
  // Inside a sub-message (extra_history, field 7), with no rule for it.
  v1::HistoryEvent event;
  event.set_item_id("m2");
  std::string inner = event.SerializeAsString();
  for (int i = 0; i < 5; ++i) inner += unknown;
  std::string nested = bytes + "\x3a" + static_cast<char>(inner.size()) + inner;
  EXPECT_EQ(CheckWireLimits(nested.data(), nested.size(), l).code(),
            absl::StatusCode::kInvalidArgument);
  // A known field with the wrong wire type is kept as unknown too: k (2) as
  // length-delimited.
  std::string wrong = bytes;
  for (int i = 0; i < 5; ++i) wrong += std::string("\x12\x00", 2);
  EXPECT_EQ(CheckWireLimits(wrong.data(), wrong.size(), l).code(),
            absl::StatusCode::kInvalidArgument);
  // Without the descriptor they are only skipped.
  l.descriptor = nullptr;
  EXPECT_TRUE(CheckWireLimits(many.data(), many.size(), l).ok());
}

TEST(WireLimits, ParseAndSerializeRoundTrip) {
  v1::RecommendRequest r;
  r.set_user_id("u1");
  r.add_context_categories("Drama");
  const std::string bytes = r.SerializeAsString();
  grpc::Slice slice(bytes);
  grpc::ByteBuffer buffer(&slice, 1);
  WireLimits limits;
  EXPECT_TRUE(CheckWireLimits(buffer, limits).ok());
  v1::RecommendRequest parsed;
  ASSERT_TRUE(ParseRequest(buffer, &parsed).ok());
  EXPECT_EQ(parsed.user_id(), "u1");
  grpc::ByteBuffer out;
  ASSERT_TRUE(SerializeResponse(parsed, &out).ok());
  v1::RecommendRequest again;
  ASSERT_TRUE(ParseRequest(out, &again).ok());
  EXPECT_EQ(again.context_categories(0), "Drama");

  const std::string garbage = "\xff\xff\xff";
  grpc::Slice bad(garbage);
  grpc::ByteBuffer bad_buffer(&bad, 1);
  EXPECT_TRUE(absl::IsInvalidArgument(ParseRequest(bad_buffer, &parsed)));
}

}  // namespace
}  // namespace recsys
