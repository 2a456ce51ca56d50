#include "common/io/crc32c.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace recsys {
namespace {

// Published CRC-32C check values (RFC 3720 B.4 and the "123456789" check).
TEST(Crc32cTest, KnownVectors) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
  EXPECT_EQ(Crc32c("a"), 0xC1D04330u);
  std::string zeros(32, '\0'), ones(32, '\xff'), up(32, 0), down(32, 0);
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<char>(i);
    down[i] = static_cast<char>(31 - i);
  }
  EXPECT_EQ(Crc32c(zeros), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(ones), 0x62A8AB43u);
  EXPECT_EQ(Crc32c(up), 0x46DD794Eu);
  EXPECT_EQ(Crc32c(down), 0x113FDB5Cu);
}

// Checksumming in pieces (any split, unaligned) equals checksumming the whole.
TEST(Crc32cTest, ExtendMatchesWhole) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 131 + 7));
  const uint32_t whole = Crc32c(data);
  for (size_t split : {0, 1, 3, 7, 8, 9, 500, 999, 1000}) {
    const uint32_t a = Crc32c(data.data(), split);
    EXPECT_EQ(Crc32cExtend(a, data.data() + split, data.size() - split), whole) << split;
  }
  // Unaligned start gives the same as a copy.
  const std::string shifted = data.substr(3);
  EXPECT_EQ(Crc32c(data.data() + 3, data.size() - 3), Crc32c(shifted));
}

// The portable tables and the SSE4.2 instruction agree on the standard check value.
TEST(Crc32cTest, BothPathsGiveTheCheckValue) {
  const std::string check = "123456789";
  EXPECT_EQ(Crc32cExtendPortable(0, check.data(), check.size()), 0xE3069283u);
  if (!Crc32cHardwareAvailable()) GTEST_SKIP() << "this CPU has no SSE4.2";
  EXPECT_EQ(Crc32cExtendHardware(0, check.data(), check.size()), 0xE3069283u);
}

// On random buffers of every length 0..257 at every start offset 0..7 (so
// every alignment of head, 8-byte body and tail), both paths agree, also when
// extending a previous CRC.
TEST(Crc32cTest, BothPathsAgreeOnRandomBuffers) {
  if (!Crc32cHardwareAvailable()) GTEST_SKIP() << "this CPU has no SSE4.2";
  std::mt19937 rng(20240607);
  std::vector<unsigned char> buf(257 + 8 + 8);
  for (auto& b : buf) b = static_cast<unsigned char>(rng());
  for (size_t len = 0; len <= 257; ++len) {
    for (size_t start = 0; start < 8; ++start) {
      const unsigned char* p = buf.data() + start;
      const uint32_t portable = Crc32cExtendPortable(0, p, len);
      EXPECT_EQ(Crc32cExtendHardware(0, p, len), portable) << "len " << len << " start " << start;
      EXPECT_EQ(Crc32c(p, len), portable) << "len " << len << " start " << start;
      const uint32_t prior = static_cast<uint32_t>(rng());
      EXPECT_EQ(Crc32cExtendHardware(prior, p, len), Crc32cExtendPortable(prior, p, len))
          << "len " << len << " start " << start;
    }
  }
}

}  // namespace
}  // namespace recsys
