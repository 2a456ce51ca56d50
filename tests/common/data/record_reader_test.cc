#include "common/data/record_reader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace recsys {
namespace {

namespace fs = std::filesystem;

std::string WriteTemp(const std::string& name, const std::string& contents) {
  const fs::path dir = fs::path(testing::TempDir()) / "record_reader_test";
  fs::create_directories(dir);
  const fs::path path = dir / name;
  std::ofstream(path, std::ios::binary) << contents;
  return path.string();
}

constexpr RecordFormat kCsv = {',', RecordFormat::Quoting::kCsv};

// Every record's fields joined by '/', in file order.
absl::Status Collect(RecordReader& reader, std::vector<std::string>* out) {
  return reader.ForEachRecord([&](std::vector<std::string>& f) {
    out->push_back(absl::StrJoin(f, "/"));
    return absl::OkStatus();
  });
}

// A header is read apart from the records; CSV quoting and CRLF are handled;
// every line after the header counts, empty ones are not handed out.
TEST(RecordReader, HeaderQuotingAndCounts) {
  const std::string path =
      WriteTemp("quoted.csv", "a,b\r\n1,\"x, \"\"y\"\"\"\r\n\r\n2,z\r\n");
  LoadOptions options;
  LoadReport report;
  auto reader = RecordReader::Open(path, kCsv, options, &report);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(report.files, std::vector<std::string>{path});
  auto header = reader->ReadHeader();
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(*header, "a,b");
  std::vector<std::string> records;
  ASSERT_TRUE(Collect(*reader, &records).ok());
  EXPECT_EQ(records, (std::vector<std::string>{"1/x, \"y\"", "2/z"}));
  EXPECT_EQ(report.lines_read, 3);
  EXPECT_EQ(report.bad_lines, 0);
}

// Without quoting the delimiter always splits; Latin-1 lines become UTF-8.
TEST(RecordReader, PlainSplitAndLatin1) {
  const std::string path = WriteTemp("plain.txt", "1|Caf\xE9|\"q\n");
  LoadOptions options;
  LoadReport report;
  auto reader = RecordReader::Open(path, {'|', RecordFormat::Quoting::kNone, true}, options,
                                   &report);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::vector<std::string> records;
  ASSERT_TRUE(Collect(*reader, &records).ok());
  EXPECT_EQ(records, (std::vector<std::string>{"1/Caf\xC3\xA9/\"q"}));
}

// With kFail the first bad line (refused by the handler or badly quoted) is
// an error naming file and line, and reading stops there.
TEST(RecordReader, FailPolicyNamesFileAndLine) {
  const std::string path = WriteTemp("fail.csv", "ok\nno\n\"open\nok\n");
  LoadOptions options;  // kFail
  LoadReport report;
  auto reader = RecordReader::Open(path, kCsv, options, &report);
  ASSERT_TRUE(reader.ok()) << reader.status();
  int handled = 0;
  const absl::Status s = reader->ForEachRecord([&](std::vector<std::string>& f) {
    ++handled;
    return f[0] == "no" ? reader->Bad("said no") : absl::OkStatus();
  });
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_EQ(s.message(), absl::StrCat(path, ":2: said no (use --on_bad_line=skip to skip and "
                                            "count bad lines)"));
  EXPECT_EQ(handled, 2);
  EXPECT_EQ(report.bad_lines, 0);
}

// With kSkip bad lines are counted, the first max_reported_bad_lines
// messages kept, and the good lines still handed out.
TEST(RecordReader, SkipPolicyCountsAndKeepsFirstMessages) {
  const std::string path = WriteTemp("skip.csv", "ok\nno\n\"open\nno\nok\n");
  LoadOptions options;
  options.on_bad_line = BadLinePolicy::kSkip;
  options.max_reported_bad_lines = 2;
  LoadReport report;
  auto reader = RecordReader::Open(path, kCsv, options, &report);
  ASSERT_TRUE(reader.ok()) << reader.status();
  int good = 0;
  const absl::Status s = reader->ForEachRecord([&](std::vector<std::string>& f) {
    if (f[0] == "no") return reader->Bad("said no");
    ++good;
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(good, 2);
  EXPECT_EQ(report.lines_read, 5);
  EXPECT_EQ(report.bad_lines, 3);
  EXPECT_EQ(report.bad_line_messages,
            (std::vector<std::string>{path + ":2: said no", path + ":3: malformed quoting"}));
}

// A handler's own error stops the loop and is returned unchanged.
TEST(RecordReader, HandlerErrorStops) {
  const std::string path = WriteTemp("stop.csv", "a\nb\nc\n");
  LoadOptions options;
  options.on_bad_line = BadLinePolicy::kSkip;
  LoadReport report;
  auto reader = RecordReader::Open(path, kCsv, options, &report);
  ASSERT_TRUE(reader.ok()) << reader.status();
  int handled = 0;
  const absl::Status s = reader->ForEachRecord([&](std::vector<std::string>&) {
    return ++handled == 2 ? absl::InternalError("stop") : absl::OkStatus();
  });
  EXPECT_EQ(s, absl::InternalError("stop"));
  EXPECT_EQ(handled, 2);
}

// An empty file has no header; a missing file is NOT_FOUND and not listed.
TEST(RecordReader, EmptyAndMissingFiles) {
  LoadOptions options;
  LoadReport report;
  const std::string empty = WriteTemp("empty.csv", "");
  auto reader = RecordReader::Open(empty, kCsv, options, &report);
  ASSERT_TRUE(reader.ok()) << reader.status();
  const auto header = reader->ReadHeader();
  EXPECT_EQ(header.status(), absl::InvalidArgumentError(empty + ": empty file"));

  const auto missing = RecordReader::Open(empty + ".absent", kCsv, options, &report);
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_EQ(report.files, std::vector<std::string>{empty});
}

}  // namespace
}  // namespace recsys
