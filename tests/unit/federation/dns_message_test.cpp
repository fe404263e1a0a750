#include "federation/dns_message.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace tandem::federation {
namespace {

using Bytes = std::vector<std::uint8_t>;

// A response for a.test/A with one answer per TTL (the name compressed to
// the question's, offset 12).
Bytes response(const std::vector<std::uint32_t>& ttls) {
  Bytes m = {0x12, 0x34, 0x81, 0x80, 0, 1, 0, static_cast<std::uint8_t>(ttls.size()), 0, 0, 0, 0};
  const Bytes question = {1, 'a', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1};
  m.insert(m.end(), question.begin(), question.end());
  for (const auto ttl : ttls) {
    const Bytes answer = {0xc0,
                          12,
                          0,
                          1,
                          0,
                          1,
                          static_cast<std::uint8_t>(ttl >> 24),
                          static_cast<std::uint8_t>(ttl >> 16),
                          static_cast<std::uint8_t>(ttl >> 8),
                          static_cast<std::uint8_t>(ttl),
                          0,
                          4,
                          127,
                          0,
                          0,
                          1};
    m.insert(m.end(), answer.begin(), answer.end());
  }
  return m;
}

TEST(DnsAnswerTtl, TheSmallestOfTheAnswers) {
  const auto m = response({300, 60, 3600});
  EXPECT_EQ(dnsAnswerTtl(m.data(), m.size()), 60);
  const auto one = response({86400});
  EXPECT_EQ(dnsAnswerTtl(one.data(), one.size()), 86400);
}

TEST(DnsAnswerTtl, NoAnswersOrBrokenMessagesAreZero) {
  const auto none = response({});
  EXPECT_EQ(dnsAnswerTtl(none.data(), none.size()), 0);
  const auto m = response({300, 60});
  for (std::size_t cut = 0; cut < m.size(); ++cut)
    EXPECT_EQ(dnsAnswerTtl(m.data(), cut), 0) << "cut at " << cut;
  EXPECT_EQ(dnsAnswerTtl(nullptr, 100), 0);
  // A compression pointer past the end.
  auto bad = response({300});
  bad[24] = 0xc0;
  bad[25] = 0xff;
  EXPECT_EQ(dnsAnswerTtl(bad.data(), bad.size()), 0);
}

TEST(DnsAnswerTtl, ATtlWithTheTopBitSetIsZero) {
  const auto m = response({0x80000000u, 300});
  EXPECT_EQ(dnsAnswerTtl(m.data(), m.size()), 0);
}

}  // namespace
}  // namespace tandem::federation
