#include "common/log.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace recsys {
namespace {

std::string Json(absl::string_view s) {
  std::string out;
  AppendJsonString(s, &out);
  return out;
}

// Parses one line with a real JSON parser; fails the test if it is not an object.
google::protobuf::Struct ParseLine(const std::string& line) {
  google::protobuf::Struct parsed;
  const auto status = google::protobuf::util::JsonStringToMessage(line, &parsed);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in " << line;
  return parsed;
}

TEST(JsonString, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(Json("plain"), "\"plain\"");
  EXPECT_EQ(Json(""), "\"\"");
  EXPECT_EQ(Json("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(Json("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
  EXPECT_EQ(Json(std::string("\0\x01\x1f\x7f", 4)), "\"\\u0000\\u0001\\u001f\\u007f\"");
  EXPECT_EQ(Json("/ <script>"), "\"/ <script>\"");
}

TEST(JsonString, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(Json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  EXPECT_EQ(Json("\xff"), "\"\\ufffd\"");
  EXPECT_EQ(Json("a\xc3"), "\"a\\ufffd\"");                    // truncated sequence
  EXPECT_EQ(Json("\xc0\xaf"), "\"\\ufffd\\ufffd\"");           // overlong '/'
  EXPECT_EQ(Json("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // a UTF-16 surrogate
  EXPECT_EQ(Json("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");  // > U+10FFFF
  EXPECT_EQ(Json("\x80x"), "\"\\ufffdx\"");                    // lone continuation byte
}

TEST(JsonString, EveryByteValueGivesParseableJson) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  std::vector<LogField> fields = {LogField::String("all", all)};
  LogRecord r;
  r.time = absl::FromUnixMicros(1);
  r.msg = all;
  r.fields = &fields;
  const std::string line = FormatLogLine(LogFormat::kJson, r);
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  const auto parsed = ParseLine(line);
  EXPECT_EQ(parsed.fields().at("msg").string_value().substr(0, 3), std::string("\0\x01\x02", 3));
}

TEST(FormatLogLine, JsonHasEveryField) {
  std::vector<LogField> fields = {LogField::String("request_id", "r-1"),
                                  LogField::Number("latency_ms", 1.25),
                                  LogField::Integer("count", -7),
                                  LogField::Number("bad", 1.0 / 0.0)};
  LogRecord r;
  r.time = absl::FromUnixMicros(1796612645123456);  // 2026-12-07T03:04:05.123456Z
  r.severity = LogSeverity::kWarning;
  r.file = "/src/gateway/gateway_service.cc";
  r.line = 42;
  r.msg = "say \"hi\"\n";
  r.fields = &fields;
  const std::string line = FormatLogLine(LogFormat::kJson, r);
  EXPECT_EQ(line,
            "{\"ts\":\"2026-12-07T03:04:05.123456Z\",\"level\":\"WARNING\","
            "\"msg\":\"say \\\"hi\\\"\\n\",\"file\":\"gateway_service.cc\",\"line\":42,"
            "\"request_id\":\"r-1\",\"latency_ms\":1.25,\"count\":-7,\"bad\":\"inf\"}\n");
  const auto parsed = ParseLine(line);
  EXPECT_EQ(parsed.fields().at("level").string_value(), "WARNING");
  EXPECT_EQ(parsed.fields().at("line").number_value(), 42);
  EXPECT_EQ(parsed.fields().at("latency_ms").number_value(), 1.25);
  EXPECT_EQ(parsed.fields().at("msg").string_value(), "say \"hi\"\n");
}

TEST(FormatLogLine, JsonWithoutFieldsAndEveryLevel) {
  for (LogSeverity s : {LogSeverity::kInfo, LogSeverity::kWarning, LogSeverity::kError,
                        LogSeverity::kFatal}) {
    LogRecord r;
    r.time = absl::UnixEpoch();
    r.severity = s;
    r.file = "x.cc";
    r.line = 1;
    r.msg = "m";
    const auto parsed = ParseLine(FormatLogLine(LogFormat::kJson, r));
    EXPECT_EQ(parsed.fields().at("level").string_value(), LogSeverityName(s));
    EXPECT_EQ(parsed.fields().at("ts").string_value(), "1970-01-01T00:00:00.000000Z");
  }
}

TEST(FormatLogLine, TextKeepsTheClassicPrefixAndQuotesAmbiguousValues) {
  std::vector<LogField> fields = {LogField::String("method", "/a.B/C"),
                                  LogField::String("note", "two words"),
                                  LogField::String("empty", ""),
                                  LogField::Number("ms", 2)};
  LogRecord r;
  r.time = absl::FromUnixMillis(1796612645123);
  r.severity = LogSeverity::kInfo;
  r.file = "dir/f.cc";
  r.line = 7;
  r.msg = "access";
  r.fields = &fields;
  EXPECT_EQ(FormatLogLine(LogFormat::kText, r),
            "I2026-12-07T03:04:05.123Z f.cc:7] access method=/a.B/C note=\"two words\" "
            "empty=\"\" ms=2\n");
}

TEST(LogFormat, Parses) {
  LogFormat f = LogFormat::kText;
  EXPECT_TRUE(ParseLogFormat("json", &f));
  EXPECT_EQ(f, LogFormat::kJson);
  EXPECT_TRUE(ParseLogFormat("text", &f));
  EXPECT_EQ(f, LogFormat::kText);
  EXPECT_FALSE(ParseLogFormat("JSON", &f));
  EXPECT_FALSE(ParseLogFormat("", &f));
}

}  // namespace
}  // namespace recsys
