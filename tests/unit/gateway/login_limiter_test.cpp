#include "gateway/login_limiter.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using tandem::core::Clock;
using tandem::core::Millis;
using tandem::gateway::LoginLimiter;

namespace {

const Clock::time_point t0 = Clock::time_point{} + 1000h;

boost::asio::ip::address ip(const char* text) {
  return boost::asio::ip::make_address(text);
}

TEST(LoginLimiter, AllowsUntilTheLimitThenRefusesUntilTheWindowEnds) {
  LoginLimiter limiter(3, 60s);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(limiter.retryAfter(ip("192.0.2.1"), t0 + 1s * i), Millis{0}) << i;
    limiter.failed(ip("192.0.2.1"), t0 + 1s * i);
  }
  EXPECT_EQ(limiter.retryAfter(ip("192.0.2.1"), t0 + 3s), Millis{57000});
  EXPECT_EQ(limiter.retryAfter(ip("192.0.2.1"), t0 + 59999ms), Millis{1});
  EXPECT_EQ(limiter.retryAfter(ip("192.0.2.1"), t0 + 60s), Millis{0});
}

TEST(LoginLimiter, AddressesAreCountedApart) {
  LoginLimiter limiter(2, 60s);
  limiter.failed(ip("192.0.2.1"), t0);
  limiter.failed(ip("192.0.2.1"), t0);
  EXPECT_GT(limiter.retryAfter(ip("192.0.2.1"), t0), Millis{0});
  EXPECT_EQ(limiter.retryAfter(ip("192.0.2.2"), t0), Millis{0});
  EXPECT_EQ(limiter.retryAfter(ip("2001:db8::1"), t0), Millis{0});
}

TEST(LoginLimiter, AFailureAfterTheWindowStartsANewWindow) {
  LoginLimiter limiter(2, 10s);
  limiter.failed(ip("192.0.2.10"), t0);
  limiter.failed(ip("192.0.2.10"), t0 + 11s);  // the first one is forgotten
  EXPECT_EQ(limiter.retryAfter(ip("192.0.2.10"), t0 + 11s), Millis{0});
  limiter.failed(ip("192.0.2.10"), t0 + 12s);
  EXPECT_EQ(limiter.retryAfter(ip("192.0.2.10"), t0 + 12s), Millis{9000});
}

TEST(LoginLimiter, ZeroMaxFailuresDisablesIt) {
  LoginLimiter limiter(0, 60s);
  for (int i = 0; i < 100; ++i)
    limiter.failed(ip("192.0.2.10"), t0);
  EXPECT_EQ(limiter.retryAfter(ip("192.0.2.10"), t0), Millis{0});
  EXPECT_EQ(limiter.tracked(), 0u);
}

TEST(LoginLimiter, RemembersAtMostMaxTrackedAddresses) {
  LoginLimiter limiter(1, 60s, 3);
  limiter.failed(ip("192.0.2.10"), t0);
  limiter.failed(ip("192.0.2.11"), t0 + 1s);
  limiter.failed(ip("192.0.2.12"), t0 + 2s);
  limiter.failed(ip("192.0.2.13"), t0 + 3s);  // full: the oldest (.10) goes
  EXPECT_EQ(limiter.tracked(), 3u);
  EXPECT_EQ(limiter.retryAfter(ip("192.0.2.10"), t0 + 3s), Millis{0});
  EXPECT_GT(limiter.retryAfter(ip("192.0.2.13"), t0 + 3s), Millis{0});
  // Expired entries go before live ones.
  limiter.failed(ip("192.0.2.14"), t0 + 62s);  // .11 and .12 have expired by now (61 s, 62 s)
  EXPECT_EQ(limiter.tracked(), 2u);
  EXPECT_GT(limiter.retryAfter(ip("192.0.2.13"), t0 + 62s), Millis{0});
  EXPECT_GT(limiter.retryAfter(ip("192.0.2.14"), t0 + 62s), Millis{0});
}

TEST(LoginLimiter, Ipv6CountsByTheSlash64AndMappedIpv4AsIpv4) {
  LoginLimiter limiter(2, 60s);
  limiter.failed(ip("2001:db8:1:2::1"), t0);
  limiter.failed(ip("2001:db8:1:2:ffff::9"), t0);  // another address, same /64
  EXPECT_GT(limiter.retryAfter(ip("2001:db8:1:2::77"), t0), Millis{0});
  EXPECT_EQ(limiter.retryAfter(ip("2001:db8:1:3::1"), t0), Millis{0});
  limiter.failed(ip("::ffff:192.0.2.5"), t0);
  limiter.failed(ip("192.0.2.5"), t0);
  EXPECT_GT(limiter.retryAfter(ip("192.0.2.5"), t0), Millis{0});
  EXPECT_GT(limiter.retryAfter(ip("::ffff:192.0.2.5"), t0), Millis{0});
  EXPECT_EQ(limiter.retryAfter(ip("192.0.2.6"), t0), Millis{0});
  EXPECT_EQ(LoginLimiter::describe(ip("2001:db8:1:2:ffff::9")), "2001:db8:1:2::/64");
  EXPECT_EQ(LoginLimiter::describe(ip("::ffff:192.0.2.5")), "192.0.2.5");
}

TEST(LoginLimiter, SaysOnceWhenRefusalsStart) {
  LoginLimiter limiter(3, 10s);
  EXPECT_FALSE(limiter.failed(ip("192.0.2.1"), t0));
  EXPECT_FALSE(limiter.failed(ip("192.0.2.1"), t0));
  EXPECT_TRUE(limiter.failed(ip("192.0.2.1"), t0));
  EXPECT_FALSE(limiter.failed(ip("192.0.2.1"), t0 + 1s));
  // A new window, a new moment.
  EXPECT_FALSE(limiter.failed(ip("192.0.2.1"), t0 + 10s));
  EXPECT_FALSE(limiter.failed(ip("192.0.2.1"), t0 + 10s));
  EXPECT_TRUE(limiter.failed(ip("192.0.2.1"), t0 + 10s));
}

TEST(LoginLimiter, AFullTableKeepsRefusedSourcesOverOthers) {
  LoginLimiter limiter(2, 60s, 8);
  limiter.failed(ip("192.0.2.1"), t0);  // refused: two failures
  limiter.failed(ip("192.0.2.1"), t0);
  // Seven more sources with one failure each, all newer: the table is full.
  for (int i = 0; i < 7; ++i) {
    const std::string a = "198.51.100." + std::to_string(i);
    limiter.failed(ip(a.c_str()), t0 + 1s * (i + 1));
  }
  EXPECT_EQ(limiter.tracked(), 8u);
  // Newcomers push out the sources that are not refused, oldest first.
  for (int i = 0; i < 20; ++i) {
    const std::string a = "203.0.113." + std::to_string(i);
    limiter.failed(ip(a.c_str()), t0 + 10s);
    EXPECT_LE(limiter.tracked(), 8u);
    EXPECT_GT(limiter.retryAfter(ip("192.0.2.1"), t0 + 10s), Millis{0}) << i;
  }
}

}  // namespace
