#include "core/endpoint.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace tandem::core {
namespace {

Endpoint at(const char* ip, std::uint16_t port) {
  return {boost::asio::ip::make_address(ip), port};
}

TEST(Endpoint, WildcardBecomesLoopbackOfItsFamilyAndOthersStay) {
  EXPECT_EQ(at("0.0.0.0", 8080).withLoopbackForWildcard(), at("127.0.0.1", 8080));
  EXPECT_EQ(at("::", 5060).withLoopbackForWildcard(), at("::1", 5060));
  EXPECT_EQ(at("127.0.0.3", 80).withLoopbackForWildcard(), at("127.0.0.3", 80));
  EXPECT_EQ(at("::1", 80).withLoopbackForWildcard().toString(), "[::1]:80");
}

TEST(Endpoint, WritesHostsAsUrisAndViasWantThem) {
  EXPECT_EQ(at("192.0.2.1", 5060).toString(), "192.0.2.1:5060");
  EXPECT_EQ(at("0.0.0.0", 0).toString(), "0.0.0.0:0");
  EXPECT_EQ(at("255.255.255.255", 65535).toString(), "255.255.255.255:65535");
  EXPECT_EQ(at("10.100.1.200", 5061).hostForUri(), "10.100.1.200");
  EXPECT_EQ(at("2001:db8::1", 443).toString(), "[2001:db8::1]:443");
  EXPECT_EQ(at("2001:db8::1", 443).hostForUri(), "[2001:db8::1]");
  EXPECT_EQ(at("::ffff:192.0.2.1", 1).toString(), "[::ffff:192.0.2.1]:1");
}

// parseIpLiteral reads dotted quads itself: it must agree with the library
// (inet_pton) on every input, literal or not.
std::optional<boost::asio::ip::address> library(std::string host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(host, ec);
  if (ec) return std::nullopt;
  return a;
}

TEST(Endpoint, IpLiteralsReadAsTheLibraryReadsThem) {
  for (const char* host : {"192.0.2.1",
                           "0.0.0.0",
                           "255.255.255.255",
                           "127.0.0.3",
                           "[2001:db8::1]",
                           "2001:db8::1",
                           "[::1]",
                           "::",
                           "[::ffff:10.0.0.1]",
                           "256.0.0.1",
                           "1.2.3",
                           "1.2.3.4.5",
                           "01.2.3.4",
                           "1.2.3.04",
                           "1.2.3.0",
                           "1..2.3",
                           ".1.2.3",
                           "1.2.3.",
                           "1.2.3.4 ",
                           "",
                           "[]",
                           "[",
                           "example.com",
                           "a.test",
                           "1.2.3.a",
                           "1e1.2.3.4",
                           "-1.2.3.4",
                           "1.2.3.4:5060",
                           "[1.2.3.4]",
                           "1234.1.1.1",
                           "00.0.0.0",
                           "0.0.0.00",
                           "[2001:db8::1",
                           "2001:db8::g",
                           "fe80::1%1"}) {
    EXPECT_EQ(parseIpLiteral(host), library(host)) << host;
  }
  // And on random strings over the characters that matter.
  std::mt19937 rng(7);
  const std::string alphabet = "0123456789..:[]a";
  for (int i = 0; i < 20000; ++i) {
    std::string host(1 + rng() % 16, ' ');
    for (auto& c : host)
      c = alphabet[rng() % alphabet.size()];
    ASSERT_EQ(parseIpLiteral(host), library(host)) << host;
  }
  // Dotted quads near the edges: octets up to 300, some zero-padded.
  for (int i = 0; i < 20000; ++i) {
    std::string host;
    for (int o = 0; o < 4; ++o) {
      if (o != 0) host += '.';
      if (rng() % 8 == 0) host += '0';
      host += std::to_string(rng() % 301);
    }
    ASSERT_EQ(parseIpLiteral(host), library(host)) << host;
  }
}

}  // namespace
}  // namespace tandem::core
