#pragma once
// A read-through cache in front of a UserStore. Every authenticated request
// looks its user up; on SQLite that is a read transaction with file locking,
// several system calls per request. Users change rarely, and from another
// process (`tandem user add` while the server runs): entries, also "no such
// user", are kept until the backing store's usersVersion() changes (polled at
// most once per kUserVersionPoll) or their time-to-live ends. A change made by
// the CLI thus takes effect within about a second.

#include "core/flat_map.hpp"
#include "core/timer_service.hpp"
#include "registrar/location.hpp"

#include <functional>
#include <string>
#include <unordered_map>

namespace tandem::registrar {

// How long a looked-up user (or its absence) is trusted at most, in case a
// store cannot tell about outside changes (SQLite tells: usersVersion()).
// An hour, since phones re-register every 10 to 60 minutes: with a minute,
// nearly every REGISTER was a SQLite read again (about 7.6 us of CPU each).
inline constexpr core::Millis kUserCacheTtl{3600 * 1000};
// How often the store is asked whether users changed (one cheap query).
inline constexpr core::Millis kUserVersionPoll{1000};
// Most entries kept; the cache is emptied when it grows past this (a flood of
// unknown user names must not grow memory without bound).
inline constexpr std::size_t kUserCacheMaxEntries = 100000;

class CachedUserStore final : public UserStore {
 public:
  using Now = std::function<core::Clock::time_point()>;
  explicit CachedUserStore(UserStore& backing, core::Millis ttl = kUserCacheTtl, Now now = {});

  std::optional<UserRecord> findUser(std::string_view name) override;
  std::shared_ptr<const UserRecord> findUserShared(std::string_view name) override;
  bool putUser(const UserRecord& user) override;
  bool deleteUser(std::string_view name) override;
  std::vector<UserRecord> listUsers() override { return backing_.listUsers(); }

 private:
  struct Entry {
    std::shared_ptr<const UserRecord> user;  // null: no such user
    core::Clock::time_point fetched;
  };
  UserStore& backing_;
  core::Millis ttl_;
  Now now_;
  core::StringFlatMap<Entry> entries_;
  std::uint64_t version_ = 0;
  core::Clock::time_point versionChecked_{};
};

}  // namespace tandem::registrar
