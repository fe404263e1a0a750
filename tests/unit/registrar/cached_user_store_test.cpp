#include "registrar/cached_user_store.hpp"

#include "support/sip_test_kit.hpp"

#include <gtest/gtest.h>

namespace tandem::registrar {
namespace {

class CountingStore final : public UserStore {
 public:
  testkit::MemoryStore inner;
  int lookups = 0;
  std::optional<UserRecord> findUser(std::string_view n) override {
    ++lookups;
    return inner.findUser(n);
  }
  bool putUser(const UserRecord& u) override { return inner.putUser(u); }
  bool deleteUser(std::string_view n) override { return inner.deleteUser(n); }
  std::vector<UserRecord> listUsers() override { return inner.listUsers(); }
  std::uint64_t usersVersion() override { return version; }
  std::uint64_t version = 0;
};

TEST(CachedUserStore, AnswersFromTheCacheWithinTheTtlAndRereadsAfter) {
  CountingStore backing;
  backing.inner.addUser("alice", "example.test", "pw");
  core::Clock::time_point now{};
  CachedUserStore cache(backing, core::Millis(1000), [&] { return now; });
  ASSERT_TRUE(cache.findUser("alice"));
  ASSERT_TRUE(cache.findUser("alice"));
  EXPECT_EQ(backing.lookups, 1);
  // Another process deletes alice: still cached until the TTL passes.
  backing.inner.deleteUser("alice");
  now += core::Millis(999);
  EXPECT_TRUE(cache.findUser("alice"));
  now += core::Millis(1);
  EXPECT_FALSE(cache.findUser("alice"));
  EXPECT_EQ(backing.lookups, 2);
}

TEST(CachedUserStore, OutsideChangeSeenAtTheNextVersionPoll) {
  CountingStore backing;
  backing.inner.addUser("alice", "example.test", "pw");
  core::Clock::time_point now{};
  CachedUserStore cache(backing, core::Millis(60000), [&] { return now; });
  ASSERT_TRUE(cache.findUser("alice"));
  backing.inner.deleteUser("alice");  // the CLI, in another process
  backing.version = 7;
  now += kUserVersionPoll / 2;
  EXPECT_TRUE(cache.findUser("alice"));  // not polled yet
  now += kUserVersionPoll;
  EXPECT_FALSE(cache.findUser("alice"));
}

TEST(CachedUserStore, CachesAbsenceAndForgetsOnLocalWrites) {
  CountingStore backing;
  core::Clock::time_point now{};
  CachedUserStore cache(backing, core::Millis(1000), [&] { return now; });
  EXPECT_FALSE(cache.findUser("bob"));
  EXPECT_FALSE(cache.findUser("bob"));
  EXPECT_EQ(backing.lookups, 1);
  ASSERT_TRUE(cache.putUser({"bob", "example.test", "a", "b"}));
  EXPECT_TRUE(cache.findUser("bob"));  // a write through the cache is seen at once
  ASSERT_TRUE(cache.deleteUser("bob"));
  EXPECT_FALSE(cache.findUser("bob"));
}

}  // namespace
}  // namespace tandem::registrar
