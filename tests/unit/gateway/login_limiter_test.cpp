#include "gateway/login_limiter.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using tandem::core::Clock;
using tandem::core::Millis;
using tandem::gateway::LoginLimiter;

namespace {

const Clock::time_point t0 = Clock::time_point{} + 1000h;

TEST(LoginLimiter, AllowsUntilTheLimitThenRefusesUntilTheWindowEnds) {
  LoginLimiter limiter(3, 60s);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(limiter.retryAfter("192.0.2.1", t0 + 1s * i), Millis{0}) << i;
    limiter.failed("192.0.2.1", t0 + 1s * i);
  }
  EXPECT_EQ(limiter.retryAfter("192.0.2.1", t0 + 3s), Millis{57000});
  EXPECT_EQ(limiter.retryAfter("192.0.2.1", t0 + 59999ms), Millis{1});
  EXPECT_EQ(limiter.retryAfter("192.0.2.1", t0 + 60s), Millis{0});
}

TEST(LoginLimiter, AddressesAreCountedApart) {
  LoginLimiter limiter(2, 60s);
  limiter.failed("192.0.2.1", t0);
  limiter.failed("192.0.2.1", t0);
  EXPECT_GT(limiter.retryAfter("192.0.2.1", t0), Millis{0});
  EXPECT_EQ(limiter.retryAfter("192.0.2.2", t0), Millis{0});
  EXPECT_EQ(limiter.retryAfter("2001:db8::1", t0), Millis{0});
}

TEST(LoginLimiter, AFailureAfterTheWindowStartsANewWindow) {
  LoginLimiter limiter(2, 10s);
  limiter.failed("a", t0);
  limiter.failed("a", t0 + 11s);  // the first one is forgotten
  EXPECT_EQ(limiter.retryAfter("a", t0 + 11s), Millis{0});
  limiter.failed("a", t0 + 12s);
  EXPECT_EQ(limiter.retryAfter("a", t0 + 12s), Millis{9000});
}

TEST(LoginLimiter, ZeroMaxFailuresDisablesIt) {
  LoginLimiter limiter(0, 60s);
  for (int i = 0; i < 100; ++i)
    limiter.failed("a", t0);
  EXPECT_EQ(limiter.retryAfter("a", t0), Millis{0});
  EXPECT_EQ(limiter.tracked(), 0u);
}

TEST(LoginLimiter, RemembersAtMostMaxTrackedAddresses) {
  LoginLimiter limiter(1, 60s, 3);
  limiter.failed("a", t0);
  limiter.failed("b", t0 + 1s);
  limiter.failed("c", t0 + 2s);
  limiter.failed("d", t0 + 3s);  // full: the oldest ("a") goes
  EXPECT_EQ(limiter.tracked(), 3u);
  EXPECT_EQ(limiter.retryAfter("a", t0 + 3s), Millis{0});
  EXPECT_GT(limiter.retryAfter("d", t0 + 3s), Millis{0});
  // Expired entries go before live ones.
  limiter.failed("e", t0 + 62s);  // b and c have expired by now (61 s, 62 s)
  EXPECT_EQ(limiter.tracked(), 2u);
  EXPECT_GT(limiter.retryAfter("d", t0 + 62s), Millis{0});
  EXPECT_GT(limiter.retryAfter("e", t0 + 62s), Millis{0});
}

}  // namespace
