#include "common/server/request_context.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace recsys {
namespace {

constexpr char kValid[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceParent, ParsesAndFormatsTheSpecExample) {
  TraceParent tp;
  ASSERT_TRUE(ParseTraceParent(kValid, &tp));
  EXPECT_EQ(tp.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(tp.span_id, "00f067aa0ba902b7");
  EXPECT_EQ(tp.flags, 1);
  EXPECT_EQ(FormatTraceParent(tp), kValid);
  tp.flags = 0;
  EXPECT_EQ(FormatTraceParent(tp), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
}

TEST(TraceParent, LaterVersionsMayAppendFields) {
  TraceParent tp;
  EXPECT_TRUE(ParseTraceParent(
      "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", &tp));
  EXPECT_TRUE(ParseTraceParent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &tp));
  EXPECT_FALSE(ParseTraceParent(
      "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", &tp));
}

TEST(TraceParent, RejectsInvalidHeaders) {
  const std::string bad[] = {
      "",
      "garbage",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",    // v00 must be exact
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",     // upper case
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",     // zero trace id
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",     // zero span id
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",     // forbidden version
      "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",     // misplaced dash
      "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
      "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-701",
  };
  for (const std::string& h : bad) {
    TraceParent tp;
    tp.trace_id = "untouched";
    EXPECT_FALSE(ParseTraceParent(h, &tp)) << h;
    EXPECT_EQ(tp.trace_id, "untouched");
  }
}

TEST(RandomHexId, HasTheRightSizeAndVaries) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string id = RandomHexId(16);
    ASSERT_EQ(id.size(), 32u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_EQ(RandomHexId(8).size(), 16u);
}

TEST(RequestContext, KeepsTheCallersIdsAndStartsANewSpan) {
  const RequestContext c = MakeRequestContext("test-req-123", kValid);
  EXPECT_EQ(c.request_id, "test-req-123");
  EXPECT_EQ(c.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(c.parent_span_id, "00f067aa0ba902b7");
  EXPECT_EQ(c.span_id.size(), 16u);
  EXPECT_NE(c.span_id, c.parent_span_id);
  EXPECT_EQ(c.trace_flags, 1);
  // The next hop sees this span as its parent.
  TraceParent down;
  ASSERT_TRUE(ParseTraceParent(FormatTraceParent({c.trace_id, c.span_id, c.trace_flags}), &down));
  const RequestContext next = MakeRequestContext(c.request_id, FormatTraceParent(
      {c.trace_id, c.span_id, c.trace_flags}));
  EXPECT_EQ(next.trace_id, c.trace_id);
  EXPECT_EQ(next.parent_span_id, c.span_id);
}

TEST(RequestContext, GeneratesWhatIsMissingOrInvalid) {
  const RequestContext c = MakeRequestContext("", "00-zz-bad");
  EXPECT_EQ(c.request_id.size(), 32u);
  EXPECT_EQ(c.trace_id.size(), 32u);
  EXPECT_TRUE(c.parent_span_id.empty());
  EXPECT_EQ(c.span_id.size(), 16u);
  EXPECT_NE(MakeRequestContext("", "").trace_id, c.trace_id);
  EXPECT_EQ(MakeRequestContext("has space", "").request_id.size(), 32u);
  EXPECT_EQ(MakeRequestContext(std::string(129, 'a'), "").request_id.size(), 32u);
  EXPECT_EQ(MakeRequestContext(std::string(128, 'a'), "").request_id, std::string(128, 'a'));
}

}  // namespace
}  // namespace recsys
