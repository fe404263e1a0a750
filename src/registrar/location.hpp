#pragma once
// The registrar's view of persistent state: users and registration bindings.
// `store` implements these interfaces (SQLite now, Redis later); the registrar
// and proxy never see SQL.

#include "sip/transport/flow.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::registrar {

struct UserRecord {
  std::string name;       // user part, e.g. "alice"
  std::string realm;      // digest realm the HA1 values were computed for (the domain)
  std::string ha1Md5;     // hex MD5(name:realm:password)
  std::string ha1Sha256;  // hex SHA-256(name:realm:password) (RFC 8760)
};

class UserStore {
 public:
  virtual ~UserStore() = default;
  virtual std::optional<UserRecord> findUser(std::string_view name) = 0;
  // The same, shared: a cache hands out the record it holds instead of copying
  // its four strings for every authenticated request.
  virtual std::shared_ptr<const UserRecord> findUserShared(std::string_view name) {
    auto user = findUser(name);
    return user ? std::make_shared<const UserRecord>(std::move(*user)) : nullptr;
  }
  // Creates or replaces. Returns false on a storage error.
  virtual bool putUser(const UserRecord& user) = 0;
  // Returns false when there was no such user.
  virtual bool deleteUser(std::string_view name) = 0;
  virtual std::vector<UserRecord> listUsers() = 0;
  // A number that changes when users may have been changed by someone else
  // (another process writing the same database), so caches know to reload.
  // Stores without outside writers keep the default.
  virtual std::uint64_t usersVersion() { return 0; }
};

// One Contact registered for an address-of-record (RFC 3261 §10.3).
struct Binding {
  std::string aor;      // "user@domain", lower-case domain
  std::string contact;  // the Contact URI as registered (no header params)
  std::string callId;
  std::uint32_t cseq = 0;
  std::int64_t expires = 0;  // absolute, seconds since the Unix epoch
  int qTimes1000 = 1000;     // q-value × 1000 (q=0.5 -> 500); 1000 when absent
  std::string instance;      // +sip.instance (RFC 5626), may be empty
  std::string regId;         // reg-id (RFC 5626), may be empty
  std::string path;          // Path header values, comma-joined (RFC 3327)
  // Where the REGISTER came from, so requests can reach a contact behind NAT or
  // only through its connection (RFC 5626 flows): "udp:1.2.3.4:5060".
  std::string received;
  // The same, parsed, with the stream connection it came on (0 for UDP or when
  // closed). Not persisted: the registrar fills it at REGISTER and rebuilds it
  // from `received` when it loads bindings, so the proxy never parses text per
  // request. `source.remote.port == 0` means unknown.
  sip::Flow source;
  std::string userAgent;
  // The expiry of this binding's row in the store (not persisted itself). A
  // refresh that changes nothing but the expiry is written only once the row
  // would lapse within half the new interval (see Registrar::handleRegister).
  std::int64_t storedExpires = 0;
};

class BindingStore {
 public:
  virtual ~BindingStore() = default;
  // Every binding stored, for loading into memory at start.
  virtual std::vector<Binding> loadBindings() = 0;
  // Creates or replaces the binding (aor, contact).
  virtual bool putBinding(const Binding& binding) = 0;
  virtual bool deleteBinding(std::string_view aor, std::string_view contact) = 0;
  // Makes pending writes durable (called periodically and at shutdown).
  virtual bool flush() = 0;
};

}  // namespace tandem::registrar
