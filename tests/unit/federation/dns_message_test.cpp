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

// NXDOMAIN for nowhere.test/NAPTR with the zone's SOA in the authority
// section: "test. 3600 IN SOA ns.test. hostmaster.test. 1 1200 120 1209600
// MINIMUM", the names compressed where they can be.
Bytes negative(std::uint32_t soaTtl, std::uint32_t minimum) {
  const auto be32 = [](std::uint32_t v) {
    return Bytes{static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
                 static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
  };
  Bytes m = {0x12, 0x34, 0x85, 0x83, 0, 1, 0, 0, 0, 1, 0, 0};
  // Question at 12: nowhere.test (the "test" label at 20), NAPTR, IN.
  const Bytes question = {7,   'n', 'o', 'w', 'h', 'e', 'r', 'e', 4,
                          't', 'e', 's', 't', 0,   0,   35,  0,   1};
  m.insert(m.end(), question.begin(), question.end());
  Bytes rdata = {2,   'n', 's', 0xc0, 20,  10,  'h', 'o',  's',
                 't', 'm', 'a', 's',  't', 'e', 'r', 0xc0, 20};
  for (const std::uint32_t v : {1u, 1200u, 120u, 1209600u, minimum}) {
    const auto b = be32(v);
    rdata.insert(rdata.end(), b.begin(), b.end());
  }
  Bytes soa = {0xc0, 20, 0, 6, 0, 1};
  const auto t = be32(soaTtl);
  soa.insert(soa.end(), t.begin(), t.end());
  soa.push_back(0);
  soa.push_back(static_cast<std::uint8_t>(rdata.size()));
  soa.insert(soa.end(), rdata.begin(), rdata.end());
  m.insert(m.end(), soa.begin(), soa.end());
  return m;
}

TEST(DnsNegativeTtl, TheSmallerOfTheSoaTtlAndItsMinimum) {
  auto m = negative(3600, 60);
  EXPECT_EQ(dnsNegativeTtl(m.data(), m.size()), 60);
  m = negative(30, 600);
  EXPECT_EQ(dnsNegativeTtl(m.data(), m.size()), 30);
  // A positive answer is not a negative one.
  const auto positive = response({300});
  EXPECT_EQ(dnsNegativeTtl(positive.data(), positive.size()), 0);
}

TEST(DnsNegativeTtl, WithoutAnSoaOrWhenBrokenItIsZero) {
  const auto none = response({});  // no answers, no authority: nothing to go by
  EXPECT_EQ(dnsNegativeTtl(none.data(), none.size()), 0);
  const auto m = negative(3600, 60);
  for (std::size_t cut = 0; cut < m.size(); ++cut)
    EXPECT_EQ(dnsNegativeTtl(m.data(), cut), 0) << "cut at " << cut;
  EXPECT_EQ(dnsNegativeTtl(nullptr, 100), 0);
  // RDLENGTH too short for the five numbers after the names.
  auto shortRdata = m;
  shortRdata[30 + 11] = static_cast<std::uint8_t>(shortRdata[30 + 11] - 4);  // RDLENGTH, low byte
  shortRdata.resize(shortRdata.size() - 4);
  EXPECT_EQ(dnsNegativeTtl(shortRdata.data(), shortRdata.size()), 0);
  // Another record type in the authority section (NS) is passed over.
  auto ns = m;
  ns[30 + 3] = 2;
  EXPECT_EQ(dnsNegativeTtl(ns.data(), ns.size()), 0);
}

}  // namespace
}  // namespace tandem::federation
