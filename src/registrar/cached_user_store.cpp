#include "registrar/cached_user_store.hpp"

namespace tandem::registrar {

CachedUserStore::CachedUserStore(UserStore& backing, core::Millis ttl, Now now)
    : backing_(backing),
      ttl_(ttl),
      now_(now ? std::move(now) : [] { return core::Clock::now(); }) {}

std::optional<UserRecord> CachedUserStore::findUser(std::string_view name) {
  auto user = findUserShared(name);
  if (!user) return std::nullopt;
  return *user;
}

std::shared_ptr<const UserRecord> CachedUserStore::findUserShared(std::string_view name) {
  const auto now = now_();
  if (now - versionChecked_ >= kUserVersionPoll || now < versionChecked_) {
    versionChecked_ = now;
    const auto version = backing_.usersVersion();
    if (version != version_) {
      version_ = version;
      entries_.clear();
    }
  }
  if (auto it = entries_.find(name); it != entries_.end() && now - it->second.fetched < ttl_) {
    return it->second.user;
  }
  if (entries_.size() >= kUserCacheMaxEntries) entries_.clear();
  auto user = backing_.findUserShared(name);
  entries_.insert_or_assign(std::string(name), Entry{user, now});
  return user;
}

bool CachedUserStore::putUser(const UserRecord& user) {
  entries_.erase(user.name);
  return backing_.putUser(user);
}

bool CachedUserStore::deleteUser(std::string_view name) {
  entries_.erase(name);
  return backing_.deleteUser(name);
}

}  // namespace tandem::registrar
